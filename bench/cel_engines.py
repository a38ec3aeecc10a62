"""CEL engines side by side: rules/s for the rules CRDs carry, compiled once.

Measures `common-expression-language` (Rust bindings, what strom uses) and, when installed,
`cel-python` (pure Python, `pip install cel-python`) on the same rules and inputs, in this
process, one core. Prints evaluations per second for each rule and the compile rate.

    python bench/cel_engines.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import cel

RULES: list[tuple[str, Any]] = [
    ("self.size() <= 10", "abcdef"),
    ("self.minReplicas <= self.replicas", {"replicas": 5, "minReplicas": 1}),
    ("self.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')", {"name": "web-frontend"}),
    ("self.items.all(x, x.size() < 20)", {"items": [f"item-{i}" for i in range(10)]}),
    ("self.replicas >= oldSelf.replicas", {"replicas": 5}),
    (
        "self.ports.exists_one(p, p.name == 'http') && self.ports.all(p, p.port > 0)",
        {"ports": [{"name": n, "port": 80 + i} for i, n in enumerate(["http", "metrics", "a"])]},
    ),
]


def _rate(fn: Callable[[], Any], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline and count < 5_000_000:
        for _ in range(100):
            fn()
        count += 100
    return count / (time.perf_counter() - start)


def _rust(rule: str, value: Any) -> Callable[[], Any]:
    program = cel.compile(rule)
    activation = {"self": value, "oldSelf": value}
    return lambda: program.execute(activation)


def _python(rule: str, value: Any) -> Callable[[], Any] | None:
    try:
        import celpy  # type: ignore[import-not-found]
    except ImportError:
        return None
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    activation = {"self": celpy.json_to_cel(value), "oldSelf": celpy.json_to_cel(value)}
    return lambda: program.evaluate(activation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per rule and engine")
    args = parser.parse_args()
    print(f"{'rule':<74} {'cel-expr (Rust)':>16} {'cel-python':>12}")
    for rule, value in RULES:
        rust = _rate(_rust(rule, value), args.seconds)
        py_fn = _python(rule, value)
        py = f"{_rate(py_fn, args.seconds):>12,.0f}" if py_fn else f"{'-':>12}"
        print(f"{rule[:74]:<74} {rust:>16,.0f} {py}")
    compile_rate = _rate(lambda: cel.compile(RULES[3][0]), args.seconds)
    print(f"compile/s (rule 4): common-expression-language {compile_rate:,.0f}")


if __name__ == "__main__":
    main()
