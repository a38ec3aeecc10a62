"""strom.gofmt: Go's formatting, one implementation shared by tables, field errors and patches."""

from __future__ import annotations

import pytest

from strom.gofmt import go_float, go_quote, go_quote_list
from strom.registry.patch.gojson import go_sprint
from strom.registry.validation import fielderrors


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # fmt.Println of each value in Go 1.24 prints exactly these.
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-2.5, "-2.5"),
        (123456.0, "123456"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (1e-5, "1e-05"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (5e-324, "5e-324"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_go_float_matches_go_percent_v(value: float, text: str) -> None:
    assert go_float(value) == text


def test_every_layer_prints_floats_the_same_way() -> None:
    # These three used to have a formatter each, and disagreed on -0.
    for value in (-0.0, 1e6, 2.5e-7):
        assert fielderrors.go_value(value) == go_float(value)
        assert go_sprint(value) == go_float(value)
        assert go_sprint([value]) == f"[{go_float(value)}]"


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\x01é\u200b') == '"a\\"b\\\\c\\n\\x01é\\u200b"'
    assert go_quote_list(["a", "b c"]) == '["a" "b c"]'
