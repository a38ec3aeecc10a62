#!/usr/bin/env bash
# Debian packages the test suite runs for real: etcd (the etcd storage backend), tshark
# (decrypting a captured watch with the TLS key log) and chromium (the live view's browser test). Installed only when missing; needs root
# and apt-get. Without them the tests that need them fail with a message naming the package.
set -euo pipefail
wanted=(etcd-server tshark chromium fonts-liberation)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system-deps: missing ${missing[*]} (run as root on Debian, or install them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian etcd package would start a system etcd on :2379; tests start their own on free
# ports. policy-rc.d exit 101 tells the package scripts not to start services at all, so there
# is nothing to stop afterwards (and no process is ended by name). An existing policy is kept.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
fi
trap 'if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
