"""`strom version` (and `strom --version`): strom's Kubernetes version, the Python, the stores."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sqlite3

__all__ = ["register", "run", "version_text"]


def version_text() -> str:
    from strom.server.app import KUBE_VERSION

    try:
        etcd_client = importlib.metadata.version("etcd3aio")
    except importlib.metadata.PackageNotFoundError:
        etcd_client = "not installed"
    return "\n".join(
        (
            f"strom {KUBE_VERSION['gitVersion']}",
            f"Python {platform.python_version()} ({platform.python_implementation()})",
            f"stores: SQLite {sqlite3.sqlite_version} (embedded, the default),"
            f" etcd through etcd3aio {etcd_client}",
        )
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("version", help="print strom's, Python's and the stores' versions")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(version_text())
    return 0
