"""The `strom` command: argument parsing and output only; the work is in the other packages.

Each subcommand lives in its own module `strom.cli.<name>_cmd` exposing
`register(subparsers) -> None` (adds its parser and sets `func=run`) and
`run(args) -> int`. Bad arguments and unreachable servers end in one clear line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main"]

# Subcommand modules, in `strom --help` order; a module not (yet) present is skipped.
_COMMANDS = ("serve", "watch", "tap", "tls_inspect")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strom", description="A Kubernetes-compatible API server built around watch."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"strom.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"strom.cli.{name}_cmd":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
