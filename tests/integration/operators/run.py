"""Run a kopf operator of tests/integration/operators as a user runs it (`kopf run`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path


@contextlib.contextmanager
def kopf_operator(
    operator: Path, namespace: str, env: Mapping[str, str], log_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`kopf run --standalone --namespace NS OPERATOR` with `env` added to the environment;
    stopped with SIGTERM (then kill) on exit, its log printed (pytest shows it on failure)."""
    log_path = log_dir / "kopf.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", namespace,
             str(operator)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
        )  # fmt: skip
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    # kopf's own account of what it saw
    print(log_path.read_text()[-6000:])
