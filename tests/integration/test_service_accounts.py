"""ServiceAccount tokens: TokenRequest (`kubectl create token`), bound tokens that die with
their Pod, expiry, signature and audience checks, legacy token Secrets, issuer discovery."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.auth.serviceaccount import BoundRef, TokenIssuer, generate_signing_key, load_signing_key
from strom.testing.server import StromServer, start_server

from .conftest import Api, wait_for
from .test_rbac import RBAC, binding, create, kubectl_as, namespace

ISSUER = "https://kubernetes.default.svc.cluster.local"


@pytest.fixture(scope="module")
def sa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StromServer]:
    server = start_server(tmp_path_factory.mktemp("sa"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(sa_server: StromServer) -> Api:
    return Api(sa_server)


@pytest.fixture(scope="module")
def robot(sa_server: StromServer, admin: Api) -> dict[str, Any]:
    """ServiceAccount `robot` in a fresh namespace, bound to `view` there."""
    ns = namespace(admin, "sa")
    account = create(
        admin, f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "robot"}}
    )
    create(
        admin,
        f"{RBAC}/namespaces/{ns}/rolebindings",
        binding(
            "robot-view",
            "ClusterRole",
            "view",
            [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}],
            cluster=False,
        ),
    )
    return {"ns": ns, "uid": account["metadata"]["uid"]}


def configmaps(server: StromServer, token: str, ns: str) -> int:
    return Api(server, token=token).get(f"/api/v1/namespaces/{ns}/configmaps").status


def test_kubectl_create_token(sa_server: StromServer, robot: dict[str, Any]) -> None:
    run = kubectl_as(sa_server.kubeconfig)
    proc = run("create", "token", "robot", "-n", robot["ns"], "--duration", "15m")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert configmaps(sa_server, token, robot["ns"]) == 200
    assert configmaps(sa_server, token, "default") == 403
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == ISSUER
    assert claims["aud"] == [ISSUER]
    assert claims["sub"] == f"system:serviceaccount:{robot['ns']}:robot"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": robot["uid"]}


def test_token_request_validation(admin: Api, robot: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{robot['ns']}/serviceaccounts/robot/token"
    short = admin.post(path, {"spec": {"expirationSeconds": 60}})
    assert short.status == 422
    assert short.json["message"] == (
        'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid'
        " value: 60: may not specify a duration less than 10 minutes"
    )
    missing = admin.post(f"/api/v1/namespaces/{robot['ns']}/serviceaccounts/nobody/token", {})
    assert missing.status == 404
    assert missing.json["message"] == 'serviceaccounts "nobody" not found'
    kind = admin.post(
        path, {"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}}
    )
    assert kind.status == 400
    assert kind.json["message"] == "cannot bind token to object of type /v1, Kind=ConfigMap"


def test_bound_token_dies_with_its_pod(
    sa_server: StromServer, admin: Api, robot: dict[str, Any]
) -> None:
    ns = robot["ns"]
    pod = create(
        admin,
        f"/api/v1/namespaces/{ns}/pods",
        {
            "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}"},
            "spec": {
                "serviceAccountName": "robot",
                "containers": [{"name": "c", "image": "busybox"}],
            },
        },
    )
    name = pod["metadata"]["name"]
    reply = admin.post(
        f"/api/v1/namespaces/{ns}/serviceaccounts/robot/token",
        {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": name}}},
    )
    assert reply.status == 201, reply.body
    token = reply.json["status"]["token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["kubernetes.io"]["pod"] == {"name": name, "uid": pod["metadata"]["uid"]}
    assert configmaps(sa_server, token, ns) == 200
    deleted = admin.delete(f"/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0")
    assert deleted.status == 200
    wait_for(
        lambda: admin.get(f"/api/v1/namespaces/{ns}/pods/{name}").status == 404, what="pod gone"
    )
    assert configmaps(sa_server, token, ns) == 401


def _forged(server: StromServer, key_path: Path, robot: dict[str, Any], **kw: Any) -> str:
    issuer = TokenIssuer(load_signing_key(key_path), kw.pop("issuer", ISSUER))
    token, _ = issuer.issue(
        namespace=robot["ns"],
        sa_name="robot",
        sa_uid=robot["uid"],
        audiences=kw.pop("audiences", [ISSUER]),
        expiration_seconds=kw.pop("expiration_seconds", 3600),
        **kw,
    )
    return token


def test_expired_wrong_key_wrong_audience_are_401(
    sa_server: StromServer, robot: dict[str, Any], tmp_path: Path
) -> None:
    ns = robot["ns"]
    key = sa_server.pki_dir / "sa.key"
    good = _forged(sa_server, key, robot)
    assert configmaps(sa_server, good, ns) == 200
    expired = _forged(sa_server, key, robot, now=time.time() - 7200)
    assert configmaps(sa_server, expired, ns) == 401
    other_key = tmp_path / "other.key"
    generate_signing_key(other_key)
    assert configmaps(sa_server, _forged(sa_server, other_key, robot), ns) == 401
    assert configmaps(sa_server, _forged(sa_server, key, robot, audiences=["vault"]), ns) == 401
    stale_uid = TokenIssuer(load_signing_key(key), ISSUER).issue(
        namespace=ns,
        sa_name="robot",
        sa_uid="00000000-0000-0000-0000-000000000000",
        audiences=[ISSUER],
        expiration_seconds=3600,
    )[0]
    assert configmaps(sa_server, stale_uid, ns) == 401
    ghost = _forged(sa_server, key, robot, pod=BoundRef("no-such-pod", "u"))
    assert configmaps(sa_server, ghost, ns) == 401


def test_audience_in_token_request(
    sa_server: StromServer, admin: Api, robot: dict[str, Any]
) -> None:
    reply = admin.post(
        f"/api/v1/namespaces/{robot['ns']}/serviceaccounts/robot/token",
        {"spec": {"audiences": ["vault"]}},
    )
    token = reply.json["status"]["token"]
    assert configmaps(sa_server, token, robot["ns"]) == 401  # not for this API server
    review = admin.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["vault"]},
        },
    ).json["status"]
    assert review["authenticated"] is True
    assert review["audiences"] == ["vault"]


def test_legacy_token_secret(sa_server: StromServer, admin: Api, robot: dict[str, Any]) -> None:
    ns = robot["ns"]
    create(
        admin,
        f"/api/v1/namespaces/{ns}/secrets",
        {
            "metadata": {
                "name": "robot-token",
                "annotations": {"kubernetes.io/service-account.name": "robot"},
            },
            "type": "kubernetes.io/service-account-token",
        },
    )

    def filled() -> dict[str, Any] | None:
        secret = admin.get(f"/api/v1/namespaces/{ns}/secrets/robot-token").json
        return secret if (secret.get("data") or {}).get("token") else None

    secret = wait_for(filled, what="the token controller to fill robot-token")
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == robot["uid"]
    assert base64.b64decode(secret["data"]["namespace"]).decode() == ns
    assert base64.b64decode(secret["data"]["ca.crt"]) == sa_server.ca_file.read_bytes()
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert configmaps(sa_server, token, ns) == 200
    assert admin.delete(f"/api/v1/namespaces/{ns}/secrets/robot-token").status == 200
    assert configmaps(sa_server, token, ns) == 401


def test_issuer_discovery(sa_server: StromServer, admin: Api, robot: dict[str, Any]) -> None:
    config = admin.get("/.well-known/openid-configuration")
    assert config.status == 200
    doc = config.json
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{sa_server.url}/openid/v1/jwks"
    jwks = admin.get("/openid/v1/jwks")
    assert jwks.status == 200
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    token = sa_server.service_account_token(robot["ns"], "robot")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] in [k["kid"] for k in jwks.json["keys"]]
    # Any ServiceAccount may read them (system:service-account-issuer-discovery).
    assert Api(sa_server, token=token).get("/openid/v1/jwks").status == 200
