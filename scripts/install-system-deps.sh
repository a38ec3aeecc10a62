#!/usr/bin/env bash
# Debian packages the test suite runs for real: etcd (the etcd storage backend) and tshark
# (decrypting a captured watch with the TLS key log). Installed only when missing; needs root
# and apt-get. Without them the tests that need them fail with a message naming the package.
set -euo pipefail
wanted=(etcd-server tshark)
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
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian etcd package starts a system etcd on :2379; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl stop etcd >/dev/null 2>&1 || true; fi
pkill -x etcd >/dev/null 2>&1 || true
