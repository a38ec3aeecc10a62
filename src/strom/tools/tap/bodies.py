"""What `strom tap --bodies` adds: headers, request and response bodies, each watch event's object.

The plaintext a TLS-terminating proxy exists to show, as records like the others (so `--save`
keeps them and `--replay` shows them again): headers on `request` and `response` records, a
`body` record per request or response body, and `object` on JSON watch events. Credentials are
masked unless `--show-secrets`: the Authorization, Cookie and Set-Cookie headers, the tokens
of TokenRequest/TokenReview bodies, and the values of a Secret's `data` and `stringData`.
Bodies are held up to `MAX_BODY` bytes; beyond that only their size is reported.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

__all__ = ["MAX_BODY", "BodyBuffer", "body_fields", "masked_headers", "object_block"]

MAX_BODY = 1024 * 1024
_SECRET_HEADERS = frozenset({b"authorization", b"cookie", b"set-cookie", b"proxy-authorization"})


def _mask(text: str) -> str:
    return f"<masked, {len(text)} characters>"


def masked_headers(headers: list[tuple[bytes, bytes]], show_secrets: bool) -> list[list[str]]:
    out = []
    for name, value in headers:
        text = value.decode("latin-1")
        if not show_secrets and name.lower() in _SECRET_HEADERS:
            scheme, _, credential = text.partition(" ")
            text = f"{scheme} {_mask(credential)}" if credential else _mask(text)
        out.append([name.decode("latin-1"), text])
    return out


def _mask_object(obj: Any) -> Any:
    """Credentials in API objects: a Secret's values, TokenRequest and TokenReview tokens."""
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("kind")
    if kind == "Secret":
        obj = dict(obj)
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: _mask(str(v)) for k, v in obj[key].items()}
    elif kind in ("TokenRequest", "TokenReview"):
        obj = dict(obj)
        for part in ("spec", "status"):
            section = obj.get(part)
            if isinstance(section, dict) and isinstance(section.get("token"), str):
                obj[part] = {**section, "token": _mask(section["token"])}
    elif kind in ("SecretList", "List") and isinstance(obj.get("items"), list):
        obj = {**obj, "items": [_mask_object(i) for i in obj["items"]]}
    return obj


class BodyBuffer:
    """A body as it passes, kept up to MAX_BODY bytes (counted beyond)."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = MAX_BODY - len(self.data)
        if room > 0:
            self.data += chunk[:room]


def body_fields(content_type: str | None, buffer: BodyBuffer, show_secrets: bool) -> dict[str, Any]:
    """`body` record fields: the body decoded (JSON as data, text as text) or its size."""
    fields: dict[str, Any] = {"contentType": content_type, "bytes": buffer.size}
    if buffer.size > len(buffer.data):
        fields["truncated"] = True
        return fields
    media = (content_type or "").split(";", 1)[0].strip().lower()
    raw = bytes(buffer.data)
    if media.endswith(("json", "json-patch+json", "merge-patch+json")):
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            fields["text"] = raw.decode("utf-8", "replace")
            return fields
        fields["json"] = decoded if show_secrets else _mask_object(decoded)
        return fields
    if media.endswith("yaml") or media.startswith("text/"):
        fields["text"] = raw.decode("utf-8", "replace")
    return fields


def event_object(obj: Any, show_secrets: bool) -> Any:
    return obj if show_secrets else _mask_object(obj)


def object_block(value: Any, indent: str = "    ") -> str:
    """`value` as indented YAML lines, for the pretty display."""
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(indent + line for line in text.rstrip("\n").split("\n"))
