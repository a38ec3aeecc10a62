"""`strom watch`: follow a resource's changes, reliably, from any Kubernetes API server.

A thin layer over `strom.client.watch` (the reflector loop) and `strom.tools.watch_printer`
(the output formats).  Failures that end the watch (bad kubeconfig, unknown resource,
unreachable server, a refused request) are one `strom watch: ...` line on stderr and exit 1;
Ctrl-C exits quietly with 130.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run"]

PROG = "strom watch"

_EPILOG = """\
examples:
  strom watch pods                              # pods in the context's namespace
  strom watch deploy web -n prod                # one Deployment, field diffs per change
  strom watch cm -A -l app=web                  # ConfigMaps everywhere, by label
  strom watch deployments.v1.apps -o json | jq -c '{type, name: .object.metadata.name}'
  strom watch pods --since 12345                # replay history from RV 12345, no list
  strom watch widgets.example.com -o yaml       # a CRD, by plural.group

The watch lists first (each object once as ADDED), then watches from the list's
resourceVersion with bookmarks, resumes from the last resourceVersion after a dropped
connection, and relists after 410 Gone, printing only what changed meanwhile.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "watch",
        help="watch a resource, reflector-style (list, watch, resume, relist)",
        description="Watch changes to RESOURCE (as kubectl names it: po, deploy, "
        "deployments.apps, pods.v1., CRD plural/singular/short names).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)
    parser.add_argument("resource", metavar="RESOURCE", help="resource type, e.g. pods, deploy")
    parser.add_argument("name", metavar="NAME", nargs="?", help="only this object")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch in all namespaces"
    )
    parser.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    parser.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")
    parser.add_argument(
        "--since", metavar="RV", help="watch from this resourceVersion without listing first"
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("pretty", "json", "yaml"),
        default="pretty",
        help="pretty (default): a line per event with field diffs; json: events as "
        "received, one per line; yaml: --- separated documents",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")


def run(args: argparse.Namespace) -> int:
    from strom.client import (
        ApiError,
        ConnectError,
        KubeconfigError,
        UnknownResourceError,
    )

    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`| head`): nothing left to say
        return 0
    except (KubeconfigError, UnknownResourceError, ConnectError) as exc:
        return _fail(str(exc))
    except ApiError as exc:
        return _fail(_api_error_text(exc))


def _run(args: argparse.Namespace) -> int:
    import uvloop

    from strom.client import load_config, watch
    from strom.tools.watch_printer import make_printer, use_color

    config = load_config(args.kubeconfig, context=args.context)
    namespace = None if args.all_namespaces else (args.namespace or config.namespace)
    out = sys.stdout.buffer
    printer = make_printer(args.output, out=out, color=use_color(out))
    stream = watch(
        args.resource,
        namespace=namespace,
        name=args.name,
        label_selector=args.selector,
        field_selector=args.field_selector,
        since=args.since,
        config=config,
        on_notice=lambda message: print(f"{PROG}: {message}", file=sys.stderr, flush=True),
    )

    async def follow() -> None:
        async for event in stream:
            printer(event)

    uvloop.run(follow())
    return 0


def _api_error_text(exc: Any) -> str:
    if exc.code in (401, 403):
        return f"the server refused the request: {exc.message}"
    return str(exc.message)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
