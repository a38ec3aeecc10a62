"""certificates.k8s.io CertificateSigningRequests: the requestor recorded from the request,
`kubectl certificate approve|deny` through the approval subresource (which needs `approve` on
the signer), validation as kube words it; CSIStorageCapacity and VolumeAttributesClass."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from strom.testing.server import StromServer

from .conftest import Api

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _request_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def _csr(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "request": _request_pem(),
        "signerName": "example.com/issuer",
        "usages": ["client auth"],
        **spec,
    }
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": body,
    }


def test_csr_requestor_and_kubectl_approve(kubectl: Kubectl, api: Api) -> None:
    name = f"csr-{uuid.uuid4().hex[:6]}"
    body = _csr(name, username="mallory", groups=["system:masters"])
    body["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    reply = api.post(CSRS, body)
    assert reply.status == 201, reply.body
    spec = reply.json["spec"]
    assert spec["username"] == "admin" and "system:masters" in spec["groups"]  # who asked
    assert reply.json["status"] == {}  # never created approved
    listed = kubectl("get", "csr", name).stdout
    assert "example.com/issuer" in listed and "Pending" in listed
    kubectl("certificate", "approve", name)
    approved = api.get(f"{CSRS}/{name}").json
    condition = approved["status"]["conditions"][0]
    assert condition["type"] == "Approved" and condition["status"] == "True"
    assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    assert "Approved" in kubectl("get", "csr", name).stdout
    # the status subresource cannot remove an approval
    approved["status"]["conditions"] = []
    approved["status"]["certificate"] = base64.b64encode(b"not really").decode()
    assert api.put(f"{CSRS}/{name}/status", approved).status == 200
    after = api.get(f"{CSRS}/{name}").json["status"]
    assert [c["type"] for c in after["conditions"]] == ["Approved"]
    # approving and denying at once is invalid
    both = api.get(f"{CSRS}/{name}").json
    both["status"]["conditions"].append({"type": "Denied", "status": "True"})
    invalid = api.put(f"{CSRS}/{name}/approval", both)
    assert invalid.status == 422
    assert "Approved and Denied conditions are mutually exclusive" in invalid.json["message"]


def test_csr_approval_needs_approve_on_the_signer(strom_server_factory: Any) -> None:
    server: StromServer = strom_server_factory(token_users={"bob": []})
    admin = Api(server)
    bob = Api(server, token=server.user_tokens["bob"])
    name = "bob-csr"
    role = {
        "metadata": {"name": "csr-writer"},
        "rules": [
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests", "certificatesigningrequests/approval"],
                "verbs": ["create", "get", "update"],
            }
        ],
    }
    assert admin.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role).status == 201
    binding = {
        "metadata": {"name": "bob-csr-writer"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "csr-writer",
        },
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    assert (
        admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding).status == 201
    )
    assert bob.post(CSRS, _csr(name)).status == 201
    csr = bob.get(f"{CSRS}/{name}").json
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Self"}]}
    refused = bob.put(f"{CSRS}/{name}/approval", csr)
    assert refused.status == 403
    assert refused.json["message"] == (
        'certificatesigningrequests.certificates.k8s.io "bob-csr" is forbidden: user not'
        ' permitted to approve requests with signerName "example.com/issuer"'
    )
    assert "conditions" not in admin.get(f"{CSRS}/{name}").json["status"]
    assert admin.put(f"{CSRS}/{name}/approval", csr).status == 200


def test_csr_validation(api: Api) -> None:
    bad_pem = _csr("bad-pem", request=base64.b64encode(b"hello").decode())
    reply = api.post(CSRS, bad_pem)
    assert reply.status == 422
    assert reply.json["message"].endswith(
        "spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must"
        " be CERTIFICATE REQUEST"
    )
    short = api.post(CSRS, _csr("short", expirationSeconds=60))
    assert short.status == 422
    assert (
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600"
        in (short.json["message"])
    )
    no_signer = _csr("nosigner")
    del no_signer["spec"]["signerName"]
    assert api.post(CSRS, no_signer).json["details"]["causes"][0]["field"] == "spec.signerName"
    usage = api.post(CSRS, _csr("usage", usages=["flying"]))
    assert usage.status == 422 and usage.json["details"]["causes"][0]["field"] == "spec.usages[0]"


def test_storage_capacity_and_attributes_class(kubectl: Kubectl, api: Api, ns: str) -> None:
    cap = {"metadata": {"name": "cap"}, "storageClassName": "fast", "capacity": "10Gi"}
    assert (
        api.post(f"/apis/storage.k8s.io/v1/namespaces/{ns}/csistoragecapacities", cap).status == 201
    )
    missing = api.post(
        f"/apis/storage.k8s.io/v1/namespaces/{ns}/csistoragecapacities", {"metadata": {"name": "x"}}
    )
    assert missing.status == 422
    assert "fast" in kubectl("get", "csistoragecapacities", "-n", ns).stdout
    vacs = "/apis/storage.k8s.io/v1/volumeattributesclasses"
    vac = {
        "metadata": {"name": f"gold-{uuid.uuid4().hex[:6]}"},
        "driverName": "csi.example.com",
        "parameters": {"iops": "3000"},
    }
    created = api.post(vacs, vac)
    assert created.status == 201, created.body
    name = vac["metadata"]["name"]
    out = json.loads(kubectl("get", "vac", name, "-o", "json").stdout)
    assert out["driverName"] == "csi.example.com"
    changed = dict(created.json, parameters={"iops": "1"})
    immutable = api.put(f"{vacs}/{name}", changed)
    assert immutable.status == 422 and "field is immutable" in immutable.json["message"]
