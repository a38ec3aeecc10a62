"""A kopf operator with admission webhooks: validates and mutates GatedWidgets.

Run by tests/integration/test_kopf_admission.py with `kopf run --standalone`. kopf serves the
webhooks itself (`kopf.WebhookServer`) and writes the Validating/MutatingWebhookConfigurations
it needs (`settings.admission.managed`). The serving certificate comes from the test
(WEBHOOK_CERT, WEBHOOK_KEY, WEBHOOK_CA): kopf's own self-signed mode needs `oscrypto`, whose
PyPI release cannot load OpenSSL 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kopf

GROUP, VERSION, PLURAL = "strom.example.com", "v1", "gatedwidgets"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 10
    settings.watching.client_timeout = 15
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        host="127.0.0.1",
        port=int(os.environ["WEBHOOK_PORT"]),
        certfile=os.environ["WEBHOOK_CERT"],
        pkeyfile=os.environ["WEBHOOK_KEY"],
        cadata=Path(os.environ["WEBHOOK_CA"]).read_bytes(),
    )
    settings.admission.managed = os.environ["WEBHOOK_MANAGED"]


@kopf.on.validate(GROUP, VERSION, PLURAL, id="size-limit")
def size_limit(spec: Any, **_: Any) -> None:
    if int(spec.get("size", 0)) > 10:
        raise kopf.AdmissionError("size must be at most 10", code=422)


@kopf.on.mutate(GROUP, VERSION, PLURAL, id="label")
def label(patch: kopf.Patch, **_: Any) -> None:
    patch.setdefault("metadata", {}).setdefault("labels", {})["gated-by"] = "kopf"
