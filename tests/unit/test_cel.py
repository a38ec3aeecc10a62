"""strom.cel: kube's libraries on the Rust runtime, and the compile-time checks."""

from __future__ import annotations

import pytest

from strom.cel import CompileError, EvalError, compile_expression

SELF = frozenset({"self"})


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("self.lowerAscii() == 'abc'", "ABC", True),
        ("self.split(',').size() == 3", "a,b,c", True),
        ("['a', 'b'].join('-') == 'a-b'", None, True),
        ("self.indexOf('c') == 2", "abc", True),
        ("[3, 1].isSorted()", None, False),
        ("[1, 2, 3].sum() == 6", None, True),
        ("self.find('[0-9]+') == '42'", "ab42cd", True),
        ("quantity(self).isLessThan(quantity('1Gi'))", "512Mi", True),
        ("quantity('1.5').asApproximateFloat() == 1.5", None, True),
        (
            "isURL(self) && url(self).getHostname() == 'example.com'",
            "https://example.com:8443/x",
            True,
        ),
        ("ip(self).family() == 6", "::1", True),
        ("cidr('10.0.0.0/8').containsIP(self)", "10.1.2.3", True),
        ("'%s has %d'.format([self, 3]) == 'x has 3'", "x", True),
    ],
)
def test_kube_libraries(source: str, value: object, expected: object) -> None:
    assert compile_expression(source, SELF).evaluate({"self": value}) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("self.size( > 1", "Syntax error"),
        ("nope(self)", "undeclared reference to 'nope' (in container '')"),
        ("self == other", "undeclared reference to 'other' (in container '')"),
        ("self.matches('[')", "error parsing regexp: unclosed character class: `[`"),
    ],
)
def test_compile_errors(source: str, message: str) -> None:
    with pytest.raises(CompileError) as caught:
        compile_expression(source, SELF)
    assert message in str(caught.value)
    assert str(caught.value).startswith("ERROR: <input>:1:")


def test_macro_variables_are_not_undeclared() -> None:
    program = compile_expression("self.all(x, x > 0) && self.exists(y, y == 2)", SELF)
    assert program.evaluate({"self": [1, 2]}) is True


def test_runtime_errors_read_as_cel_gos() -> None:
    with pytest.raises(EvalError, match=r"^no such key: b$"):
        compile_expression("self.b == 1", SELF).evaluate({"self": {"a": 1}})
    with pytest.raises(EvalError, match="no such overload"):
        compile_expression("self + 1", SELF).evaluate({"self": "a"})
