"""Label and field selectors, parsed once and matched cheaply.

Selectors are matched per object per event on the watch fan-out hot path, so each one is
compiled once into a tuple of small closures and `matches` only runs those; an empty selector
has no closures at all. Parsing, validation and every error text follow kube-apiserver v1.36:
the label grammar and its lexer quirks are those of k8s.io/apimachinery/pkg/labels/selector.go
(`Parse`), the field grammar and escaping those of pkg/fields/selector.go (`ParseSelector`), and
which fields each kind accepts (with what rejection message) comes from the per-kind
`AddFieldLabelConversionFunc` registrations in kubernetes/kubernetes pkg/apis/*/v1*/conversion.go,
with values computed as the kinds' `ToSelectableFields` do (pkg/apis/core/selection.go etc.).
"""

from __future__ import annotations

from strom.selectors._fields import FieldSelector, parse_field_selector
from strom.selectors._labels import (
    LabelSelector,
    label_selector_from_object,
    parse_label_selector,
)

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "label_selector_from_object",
    "parse_field_selector",
    "parse_label_selector",
]
