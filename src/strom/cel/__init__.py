"""CEL for strom: compile once, evaluate many times, with Kubernetes' libraries.

CRD validation rules and ValidatingAdmissionPolicy share this package. The runtime is
`common-expression-language` (Rust bindings), picked by measurement over the pure-Python
`cel-python` (docs/benchmarks.md: 20-300x more evaluations per second). It parses and
evaluates but has no type checker, so `compile_expression` adds the checks kube's compiler
makes that catch real mistakes without types: undeclared variables and functions, and (given
a `check_select`) field selections the schema does not have. Messages read as cel-go's
(`ERROR: <input>:1:6: undeclared reference to 'x' (in container '')` and the caret lines).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cel as _cel

from .library import FUNCTIONS, MACROS, STANDARD

__all__ = ["CompileError", "EvalError", "Program", "Selection", "compile_expression"]

_STRING_LITERAL = re.compile(
    r"""[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""", re.DOTALL
)
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_SELECT = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_]\w*)+)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_DOT_NAME = re.compile(r"\.\s*([A-Za-z_]\w*)")


class CompileError(Exception):
    """An expression that does not compile; `str()` is cel-go's error text."""


class EvalError(Exception):
    """An evaluation that failed; `str()` reads as cel-go's (`no such key: x`)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """`root.a.b` in an expression: the variable, the field names, and for each field where
    cel-go reports a problem with it (its dot, or the `(` of `has(` around the last one)."""

    root: str
    fields: tuple[str, ...]
    offsets: tuple[int, ...]


def _blank_strings(source: str) -> str:
    """The source with string literals blanked (same length), for scanning names."""
    return _STRING_LITERAL.sub(lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', source)


def _error_text(source: str, offset: int, message: str) -> str:
    line_start = source.rfind("\n", 0, offset) + 1
    line_no = source.count("\n", 0, offset) + 1
    column = offset - line_start
    line_end = source.find("\n", offset)
    line = source[line_start : line_end if line_end >= 0 else len(source)]
    return f"ERROR: <input>:{line_no}:{column + 1}: {message}\n | {line}\n | {'.' * column}^"


def selections(source: str) -> Iterator[Selection]:
    """Field selections on variables (`self.spec.replicas`), method calls left out."""
    scan = _blank_strings(source)
    for match in _SELECT.finditer(scan):
        parts = [
            (m.group(1), match.start(2) + m.start()) for m in _DOT_NAME.finditer(match.group(2))
        ]
        rest = scan[match.end() :].lstrip()
        if rest.startswith("("):
            parts = parts[:-1]  # a method call, not a field
        if not parts:
            continue
        head = scan[: match.start()].rstrip()
        if head.endswith("has(") and rest.startswith(")"):
            parts[-1] = (parts[-1][0], len(head) - 1)
        yield Selection(match.group(1), tuple(n for n, _ in parts), tuple(o for _, o in parts))


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled expression and the library functions it calls."""

    source: str
    program: Any
    functions: dict[str, Callable[..., Any]]
    variables: frozenset[str]

    def uses(self, name: str) -> bool:
        return name in self.variables

    def evaluate(self, activation: dict[str, Any]) -> Any:
        context: Any = activation
        if self.functions:
            context = _cel.Context(variables=activation, functions=self.functions)
        try:
            return self.program.execute(context)
        except KeyError as exc:
            raise EvalError(f"no such key: {exc.args[0] if exc.args else ''}") from exc
        except TypeError as exc:
            raise EvalError("no such overload") from exc
        except IndexError as exc:
            raise EvalError(str(exc) or "index out of bounds") from exc
        except ZeroDivisionError as exc:
            raise EvalError("division by zero") from exc
        except OverflowError as exc:
            raise EvalError("integer overflow") from exc
        except (RuntimeError, ValueError) as exc:
            raise EvalError(_runtime_message(str(exc))) from exc


def _runtime_message(text: str) -> str:
    """A library function's own message out of the runtime's wrapping, on one line."""
    match = re.search(r"Python function call failed: \w+: (.*?)(?:\. Check function|$)", text)
    message = match.group(1) if match else text
    return " ".join(message.split())


# A constant pattern of matches/find/findAll, checked when compiling as cel-go does.
_REGEX_CALL = re.compile(
    r"""\b(?:matches|find|findAll)\s*\(\s*(?:[^,()'"]+,\s*)?(r?'(?:\\.|[^'\\])*'|r?"(?:\\.|[^"\\])*")"""
)


def _check_patterns(source: str) -> None:
    for match in _REGEX_CALL.finditer(source):
        literal = match.group(1)
        try:
            _cel.evaluate(f"''.matches({literal})", {})
        except (RuntimeError, ValueError, TypeError) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = lines[-1].removeprefix("error: ") if lines else "invalid"
            reason = reason.split(". Check function")[0]
            pattern = literal.lstrip("r")[1:-1]
            raise CompileError(
                _error_text(
                    source, match.start(1), f"error parsing regexp: {reason}: `{pattern}`"
                )
            ) from exc


def _syntax_error(source: str, text: str) -> str:
    text = re.sub(r"^Failed to parse expression .*?: (?=ERROR:)", "", text, flags=re.DOTALL)
    return "\n".join(
        " | " + line[2:] if line.startswith("| ") else line for line in text.split("\n")
    )


def compile_expression(
    source: str,
    declared: frozenset[str],
    check_select: Callable[[Selection], tuple[int, str] | None] | None = None,
) -> Program:
    """Compile `source` with the variables `declared` (`self`, `oldSelf`, ...).

    `check_select` may refuse a field selection: it sees each `var.a.b` chain in the source
    and returns the index of the field at fault with kube's message ("undefined field 'x'")."""
    try:
        program = _cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise CompileError(_syntax_error(source, str(exc))) from exc
    _check_patterns(source)
    refs = program.references()
    scan = _blank_strings(source)
    bound = set(_MACRO_VAR.findall(scan))
    variables = frozenset(refs.get("variables") or ())
    for name in sorted(variables - bound - declared):
        raise CompileError(
            _error_text(
                source, _first(scan, name), f"undeclared reference to '{name}' (in container '')"
            )
        )
    functions: dict[str, Callable[..., Any]] = {}
    for name in refs.get("functions") or ():
        if name in FUNCTIONS:
            functions[name] = FUNCTIONS[name]
        elif not (name[:1] in "_@!-" or name in STANDARD or name in MACROS):
            raise CompileError(
                _error_text(
                    source,
                    _first(scan, name),
                    f"undeclared reference to '{name}' (in container '')",
                )
            )
    if check_select is not None:
        for selection in selections(source):
            if selection.root in bound or selection.root not in declared:
                continue
            problem = check_select(selection)
            if problem is not None:
                index, message = problem
                raise CompileError(_error_text(source, selection.offsets[index], message))
    return Program(source, program, functions, variables & declared)


def _first(scan: str, name: str) -> int:
    for match in _NAME.finditer(scan):
        if match.group(0) == name:
            return match.start()
    return 0
