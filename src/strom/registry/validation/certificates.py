"""certificates.k8s.io/v1 CertificateSigningRequest validation (kube's
pkg/apis/certificates/validation): the request must be a PEM CERTIFICATE REQUEST, the signer a
qualified name with a path, usages known, a duration at least ten minutes; Approved and Denied
conditions are exclusive, unique and True."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from strom.errors import Cause
from strom.registry.validation import fielderrors as fe

__all__ = ["validate_csr", "validate_csr_update"]

_USAGES = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)
_LEGACY_SIGNER = "kubernetes.io/legacy-unknown"
_SIGNER_FORMAT = "must be a fully qualified domain and path of the form 'example.com/signer-name'"


def _go_bytes(data: bytes) -> str:
    """Go's %#v of a []byte, as field.Invalid prints the request."""
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def _request_errors(request: Any) -> list[Cause]:
    if not request:
        return [fe.required("spec.request")]
    try:
        data = base64.b64decode(str(request), validate=True)
    except (binascii.Error, ValueError):
        return []  # the type check reports an undecodable []byte
    message = ""
    start = data.find(b"-----BEGIN CERTIFICATE REQUEST-----")
    if start < 0:
        message = "PEM block type must be CERTIFICATE REQUEST"
    else:
        try:
            x509.load_pem_x509_csr(data[start:])
        except ValueError:
            message = "x509: malformed certificate request"
    if not message:
        return []
    return [
        Cause("FieldValueInvalid", f"Invalid value: {_go_bytes(data)}: {message}", "spec.request")
    ]


def _signer_errors(signer: Any) -> list[Cause]:
    if not signer:
        return [fe.required("spec.signerName")]
    text = str(signer)
    if text == _LEGACY_SIGNER:
        return [
            fe.invalid(
                "spec.signerName", text, "the legacy signerName is not allowed via this API version"
            )
        ]
    domain, _, path = text.partition("/")
    if not path or not domain or "." not in domain:
        return [fe.invalid("spec.signerName", text, _SIGNER_FORMAT)]
    return []


def validate_csr(obj: Mapping[str, Any]) -> list[Cause]:
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        return []
    causes = _request_errors(spec.get("request"))
    causes += _signer_errors(spec.get("signerName"))
    usages = spec.get("usages") or []
    for index, usage in enumerate(usages if isinstance(usages, list) else []):
        if usage not in _USAGES:
            causes.append(fe.not_supported(f"spec.usages[{index}]", usage, _USAGES))
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds < 600:
        causes.append(
            fe.invalid(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    return causes + _condition_errors(obj)


def _condition_errors(obj: Mapping[str, Any]) -> list[Cause]:
    status = obj.get("status") or {}
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    causes: list[Cause] = []
    seen: set[str] = set()
    has_approved = has_denied = False
    for index, condition in enumerate(conditions if isinstance(conditions, list) else []):
        if not isinstance(condition, Mapping):
            continue
        kind = str(condition.get("type") or "")
        path = f"status.conditions[{index}]"
        if not kind:
            causes.append(fe.required(f"{path}.type"))
            continue
        if kind in ("Approved", "Denied"):
            if condition.get("status") != "True":
                causes.append(
                    fe.not_supported(f"{path}.status", condition.get("status"), ("True",))
                )
            if kind == "Approved":
                has_approved = True
            else:
                has_denied = True
            if has_approved and has_denied:
                causes.append(
                    fe.invalid(
                        f"{path}.type",
                        kind,
                        "Approved and Denied conditions are mutually exclusive",
                    )
                )
        if kind in seen and kind in ("Approved", "Denied", "Failed"):
            causes.append(
                Cause("FieldValueDuplicate", f'Duplicate value: "{kind}"', f"{path}.type")
            )
        seen.add(kind)
    return causes


def validate_csr_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    del old  # spec and status are kept by the strategies; what is left is checked as new
    return _condition_errors(new)
