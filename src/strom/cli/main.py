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
_COMMANDS = ("serve", "watch", "tap", "tls_inspect", "version")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strom", description="A Kubernetes-compatible API server built around watch."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--version", action="store_true", help="print the versions (as `strom version`) and exit"
    )
    sub = parser.add_subparsers(dest="command")
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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from strom.cli.version_cmd import version_text

        print(version_text())
        return 0
    if args.command is None:
        parser.error("a command is required")
    if getattr(args, "log_level", None) is not None:
        from strom import logs

        logs.configure(args.log_level, args.logging_format)
    else:
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
