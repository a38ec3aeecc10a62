"""RBAC as kube-apiserver enforces it: a matrix of users x verbs x resources against Roles and
bindings, `kubectl auth can-i` (incl. --list) agreeing with it, escalation prevention,
impersonation, anonymous access and the review kinds.

One server for the module, with anonymous auth on and three token-file users; a client-cert
user and a ServiceAccount join through the pytest plugin's helpers.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from strom.testing.server import StromServer, start_server

from .conftest import Api, Reply, kubectl_path, wait_for

RBAC = "/apis/rbac.authorization.k8s.io/v1"
USERS = {"alice": [], "bob": ["devs"], "carol": [], "dave": []}


@pytest.fixture(scope="module")
def rbac_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StromServer]:
    server = start_server(tmp_path_factory.mktemp("rbac"), "--anonymous-auth", token_users=USERS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(rbac_server: StromServer) -> Api:
    return Api(rbac_server)


def as_token(server: StromServer, token: str) -> Api:
    return Api(server, token=token)


class CertApi(Api):
    """Api that authenticates with a client certificate from a kubeconfig the plugin made."""

    def __init__(self, server: StromServer, kubeconfig: Path) -> None:
        super().__init__(server, token="")
        user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
        import base64

        folder = kubeconfig.parent
        (folder / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
        (folder / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
        os.chmod(folder / "c.key", 0o600)
        self.ctx.load_cert_chain(str(folder / "c.crt"), str(folder / "c.key"))


def create(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(path, body)
    assert reply.status == 201, reply.body
    return reply.json


def role(name: str, rules: list[dict[str, Any]], *, cluster: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole" if cluster else "Role",
        "metadata": {"name": name},
        "rules": rules,
    }


def binding(
    name: str, role_kind: str, role_name: str, subjects: list[dict[str, str]], *, cluster: bool
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding" if cluster else "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def namespace(admin: Api, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    create(admin, "/api/v1/namespaces", {"metadata": {"name": name}})
    wait_for(
        lambda: admin.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status == 200,
        what=f"default ServiceAccount in {name}",
    )
    return name


@pytest.fixture(scope="module")
def world(rbac_server: StromServer, admin: Api) -> dict[str, Any]:
    """Namespaces a and b, Roles and bindings for alice, bob (group devs) and a
    ServiceAccount `reader` bound to `view` in a."""
    a, b = namespace(admin, "a"), namespace(admin, "b")
    for ns in (a, b):
        create(admin, f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "cm1"}})
        create(admin, f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "s1"}})
        create(admin, f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "s2"}})
    create(
        admin,
        f"{RBAC}/namespaces/{a}/roles",
        role(
            "cm-reader",
            [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get"],
                    "resourceNames": ["s1"],
                },
            ],
        ),
    )
    create(
        admin,
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding("alice-cm", "Role", "cm-reader", [user("alice")], cluster=False),
    )
    create(
        admin,
        f"{RBAC}/clusterroles",
        role(
            "node-reader",
            [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
            cluster=True,
        ),
    )
    create(
        admin,
        f"{RBAC}/clusterrolebindings",
        binding("devs-nodes", "ClusterRole", "node-reader", [group("devs")], cluster=True),
    )
    create(
        admin,
        f"{RBAC}/clusterroles",
        role(
            "pod-status",
            [{"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]}],
            cluster=True,
        ),
    )
    create(
        admin,
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding("devs-pod-status", "ClusterRole", "pod-status", [group("devs")], cluster=False),
    )
    create(
        admin,
        f"{RBAC}/clusterroles",
        role("metrics", [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}], cluster=True),
    )
    create(
        admin,
        f"{RBAC}/clusterrolebindings",
        binding("alice-metrics", "ClusterRole", "metrics", [user("alice")], cluster=True),
    )
    create(admin, f"/api/v1/namespaces/{a}/serviceaccounts", {"metadata": {"name": "reader"}})
    create(
        admin,
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding(
            "reader-view",
            "ClusterRole",
            "view",
            [{"kind": "ServiceAccount", "name": "reader", "namespace": a}],
            cluster=False,
        ),
    )
    bob_config = rbac_server.user_kubeconfig("bob", groups=["devs"])
    sa_config = rbac_server.service_account_kubeconfig(a, "reader")
    sa_token = yaml.safe_load(sa_config.read_text())["users"][0]["user"]["token"]
    return {
        "a": a,
        "b": b,
        "clients": {
            "alice": as_token(rbac_server, rbac_server.user_tokens["alice"]),
            "bob": CertApi(rbac_server, bob_config),
            "sa": as_token(rbac_server, sa_token),
            "anonymous": as_token(rbac_server, ""),
        },
        "kubeconfigs": {
            "alice": rbac_server.token_user_kubeconfig("alice"),
            "bob": bob_config,
            "sa": sa_config,
        },
    }


def test_no_rbac_means_kubes_403(rbac_server: StromServer) -> None:
    carol = as_token(rbac_server, rbac_server.user_tokens["carol"])
    reply = carol.get("/api/v1/namespaces/default/configmaps")
    assert reply.status == 403
    assert reply.json == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps is forbidden: User "carol" cannot list resource "configmaps" in'
        ' API group "" in the namespace "default"',
        "reason": "Forbidden",
        "details": {"kind": "configmaps"},
        "code": 403,
    }
    named = carol.get("/api/v1/namespaces/kube-system/secrets/x")
    assert named.status == 403
    assert named.json["message"] == (
        'secrets "x" is forbidden: User "carol" cannot get resource "secrets" in API group ""'
        ' in the namespace "kube-system"'
    )
    assert named.json["details"] == {"name": "x", "kind": "secrets"}
    cluster = carol.delete("/api/v1/namespaces/default")
    assert cluster.status == 403
    # kube's RequestInfo gives a namespace path its own name as namespace, hence the wording.
    assert cluster.json["message"] == (
        'namespaces "default" is forbidden: User "carol" cannot delete resource "namespaces"'
        ' in API group "" in the namespace "default"'
    )


# (who, method, path template, allowed?) -- {a} and {b} are the two namespaces.
MATRIX: list[tuple[str, str, str, bool]] = [
    ("alice", "GET", "/api/v1/namespaces/{a}/configmaps", True),
    ("alice", "GET", "/api/v1/namespaces/{a}/configmaps/cm1", True),
    ("alice", "GET", "/api/v1/namespaces/{a}/configmaps?watch=true&timeoutSeconds=1", True),
    ("alice", "GET", "/api/v1/namespaces/{b}/configmaps", False),
    ("alice", "POST", "/api/v1/namespaces/{a}/configmaps", False),
    ("alice", "DELETE", "/api/v1/namespaces/{a}/configmaps/cm1", False),
    ("alice", "GET", "/api/v1/namespaces/{a}/secrets/s1", True),
    ("alice", "GET", "/api/v1/namespaces/{a}/secrets/s2", False),
    ("alice", "GET", "/api/v1/namespaces/{a}/secrets", False),
    ("alice", "GET", "/api/v1/configmaps", False),
    ("alice", "GET", "/api/v1/nodes", False),
    ("alice", "GET", "/metrics", True),
    ("alice", "GET", "/api", True),
    ("alice", "GET", "/healthz", True),
    ("bob", "GET", "/api/v1/nodes", True),
    ("bob", "GET", "/api/v1/nodes/n1", True),
    ("bob", "DELETE", "/api/v1/nodes/n1", False),
    ("bob", "GET", "/api/v1/namespaces/{a}/pods/p1/status", True),
    ("bob", "GET", "/api/v1/namespaces/{a}/pods/p1", False),
    ("bob", "GET", "/api/v1/namespaces/{b}/pods/p1/status", False),
    ("bob", "GET", "/metrics", False),
    ("sa", "GET", "/api/v1/namespaces/{a}/configmaps", True),
    ("sa", "GET", "/api/v1/namespaces/{a}/serviceaccounts", True),
    ("sa", "GET", "/apis/apps/v1/namespaces/{a}/deployments", True),
    ("sa", "GET", "/api/v1/namespaces/{a}/secrets", False),
    ("sa", "GET", "/api/v1/namespaces/{b}/configmaps", False),
    ("sa", "POST", "/api/v1/namespaces/{a}/configmaps", False),
    ("sa", "GET", "/.well-known/openid-configuration", True),
    ("anonymous", "GET", "/version", True),
    ("anonymous", "GET", "/healthz", True),
    ("anonymous", "GET", "/readyz", True),
    ("anonymous", "GET", "/api", False),
    ("anonymous", "GET", "/api/v1/namespaces/{a}/configmaps", False),
]


def test_matrix(world: dict[str, Any]) -> None:
    wrong = []
    for who, method, template, allowed in MATRIX:
        path = template.format(a=world["a"], b=world["b"])
        body = {"metadata": {"name": "new"}} if method == "POST" else None
        reply: Reply = world["clients"][who].request(method, path, body)
        denied = reply.status == 403
        if denied == allowed or reply.status == 401 or reply.status >= 500:
            wrong.append((who, method, path, allowed, reply.status, reply.body[:200]))
    assert not wrong, "\n".join(map(str, wrong))


def test_anonymous_403_is_kubes(world: dict[str, Any]) -> None:
    reply = world["clients"]["anonymous"].get("/api/v1/namespaces/default/configmaps")
    assert reply.status == 403
    assert reply.json["message"] == (
        'configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" in'
        ' API group "" in the namespace "default"'
    )
    api = world["clients"]["anonymous"].get("/api")
    assert api.json["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert api.json["details"] == {}


def kubectl_as(kubeconfig: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = kubectl_path()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "KUBECACHEDIR": str(kubeconfig.parent / "cache"),
        }
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=env)

    return run


# (who, can-i arguments, expected) -- agrees with MATRIX above.
CAN_I: list[tuple[str, list[str], bool]] = [
    ("alice", ["list", "configmaps", "-n", "{a}"], True),
    ("alice", ["watch", "configmaps", "-n", "{a}"], True),
    ("alice", ["list", "configmaps", "-n", "{b}"], False),
    ("alice", ["create", "configmaps", "-n", "{a}"], False),
    ("alice", ["get", "secrets/s1", "-n", "{a}"], True),
    ("alice", ["get", "secrets/s2", "-n", "{a}"], False),
    ("alice", ["get", "/metrics"], True),
    ("bob", ["list", "nodes"], True),
    ("bob", ["delete", "nodes"], False),
    ("bob", ["get", "pods", "--subresource=status", "-n", "{a}"], True),
    ("bob", ["get", "pods", "-n", "{a}"], False),
    ("sa", ["list", "configmaps", "-n", "{a}"], True),
    ("sa", ["list", "secrets", "-n", "{a}"], False),
    ("sa", ["list", "configmaps", "-n", "{b}"], False),
]


def test_kubectl_auth_can_i_agrees(world: dict[str, Any]) -> None:
    wrong = []
    for who, args, expected in CAN_I:
        run = kubectl_as(world["kubeconfigs"][who])
        filled = [a.format(a=world["a"], b=world["b"]) for a in args]
        proc = run("auth", "can-i", *filled)
        answer = proc.stdout.strip()
        if answer != ("yes" if expected else "no"):
            wrong.append((who, filled, answer, proc.stderr.strip()))
    assert not wrong, "\n".join(map(str, wrong))


def _can_i_list(run: Callable[..., subprocess.CompletedProcess[str]], ns: str) -> str:
    proc = run("auth", "can-i", "--list", "-n", ns)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_kubectl_auth_can_i_list(world: dict[str, Any]) -> None:
    a = world["a"]
    alice = _can_i_list(kubectl_as(world["kubeconfigs"]["alice"]), a)
    lines = {" ".join(line.split()) for line in alice.splitlines()}
    assert "configmaps [] [] [get list watch]" in lines, alice
    assert "secrets [] [s1] [get]" in lines, alice
    assert "[/metrics] [] [get]" in lines, alice
    assert "nodes [] [] [get list]" not in lines, alice
    # In the other namespace only cluster-wide grants remain.
    elsewhere = _can_i_list(kubectl_as(world["kubeconfigs"]["alice"]), world["b"])
    assert "configmaps" not in elsewhere, elsewhere
    bob = _can_i_list(kubectl_as(world["kubeconfigs"]["bob"]), a)
    bob_lines = {" ".join(line.split()) for line in bob.splitlines()}
    assert "nodes [] [] [get list]" in bob_lines, bob
    assert "pods/status [] [] [get]" in bob_lines, bob
    sa = _can_i_list(kubectl_as(world["kubeconfigs"]["sa"]), a)
    assert "configmaps" in sa and "secrets" not in sa.split("\n", 1)[1].split("Resources")[0]


def test_whoami(world: dict[str, Any]) -> None:
    proc = kubectl_as(world["kubeconfigs"]["sa"])("auth", "whoami", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{world['a']}:reader"
    assert info["groups"] == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{world['a']}",
        "system:authenticated",
    ]
    assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")


def test_service_account_watches_configmaps_in_its_namespace(
    world: dict[str, Any], admin: Api
) -> None:
    a = world["a"]
    sa: Api = world["clients"]["sa"]
    listing = sa.get(f"/api/v1/namespaces/{a}/configmaps")
    assert listing.status == 200
    rv = listing.json["metadata"]["resourceVersion"]
    create(admin, f"/api/v1/namespaces/{a}/configmaps", {"metadata": {"name": "seen"}})
    watch = sa.get(
        f"/api/v1/namespaces/{a}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=2",
        timeout=10,
    )
    assert watch.status == 200
    events = [json.loads(line) for line in watch.body.splitlines() if line.strip()]
    assert any(
        e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "seen" for e in events
    ), events
    forbidden = sa.get(f"/api/v1/namespaces/{world['b']}/configmaps?watch=true")
    assert forbidden.status == 403
    assert forbidden.json["message"] == (
        f'configmaps is forbidden: User "system:serviceaccount:{a}:reader" cannot watch'
        f' resource "configmaps" in API group "" in the namespace "{world["b"]}"'
    )


def test_rule_change_applies_to_next_request(
    rbac_server: StromServer, admin: Api, world: dict[str, Any]
) -> None:
    dave = as_token(rbac_server, rbac_server.user_tokens["dave"])
    path = f"/api/v1/namespaces/{world['b']}/configmaps"
    assert dave.get(path).status == 403
    create(
        admin,
        f"{RBAC}/namespaces/{world['b']}/rolebindings",
        binding("dave-view", "ClusterRole", "view", [user("dave")], cluster=False),
    )
    assert dave.get(path).status == 200
    assert admin.delete(f"{RBAC}/namespaces/{world['b']}/rolebindings/dave-view").status == 200
    assert dave.get(path).status == 403


def test_bootstrap_policy_and_aggregation(admin: Api) -> None:
    admin_role = admin.get(f"{RBAC}/clusterroles/cluster-admin").json
    assert admin_role["metadata"]["annotations"] == {
        "rbac.authorization.kubernetes.io/autoupdate": "true"
    }
    assert admin_role["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert admin_role["rules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ]
    masters = admin.get(f"{RBAC}/clusterrolebindings/cluster-admin").json
    assert masters["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}
    ]
    view = admin.get(f"{RBAC}/clusterroles/view").json
    assert view["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
    ]
    assert any("configmaps" in r.get("resources", []) for r in view["rules"]), view["rules"]
    # A new role labelled aggregate-to-view joins view (and edit and admin through the chain).
    create(
        admin,
        f"{RBAC}/clusterroles",
        {
            **role(
                "widgets-view",
                [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
                cluster=True,
            ),
            "metadata": {
                "name": "widgets-view",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
        },
    )

    def aggregated() -> bool:
        rules = admin.get(f"{RBAC}/clusterroles/view").json["rules"]
        return any("widgets" in r.get("resources", []) for r in rules)

    wait_for(aggregated, what="widgets in the view ClusterRole")
    for name in ("public-info-viewer", "discovery", "basic-user"):
        assert admin.get(f"{RBAC}/clusterroles/system:{name}").status == 200


def test_escalation_refused(rbac_server: StromServer, admin: Api, world: dict[str, Any]) -> None:
    a = world["a"]
    carol = as_token(rbac_server, rbac_server.user_tokens["carol"])
    create(
        admin,
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding("carol-admin", "ClusterRole", "admin", [user("carol")], cluster=False),
    )
    # admin in a: may create Roles and RoleBindings there, but grant only what it holds.
    too_much = carol.post(
        f"{RBAC}/namespaces/{a}/roles",
        role("everything", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    )
    assert too_much.status == 403, too_much.body
    assert too_much.json["message"].startswith(
        'roles.rbac.authorization.k8s.io "everything" is forbidden: user "carol" (groups=['
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
    ), too_much.json["message"]
    fine = carol.post(
        f"{RBAC}/namespaces/{a}/roles",
        role("cm-only", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]),
    )
    assert fine.status == 201, fine.body
    self_admin = carol.post(
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding("carol-root", "ClusterRole", "cluster-admin", [user("carol")], cluster=False),
    )
    assert self_admin.status == 403, self_admin.body
    assert (
        "is attempting to grant RBAC permissions not currently held" in (self_admin.json["message"])
    )
    cluster_wide = carol.post(
        f"{RBAC}/clusterrolebindings",
        binding("carol-root", "ClusterRole", "cluster-admin", [user("carol")], cluster=True),
    )
    assert cluster_wide.status == 403
    assert cluster_wide.json["message"] == (
        'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "carol" cannot create'
        ' resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster'
        " scope"
    )
    view = carol.post(
        f"{RBAC}/namespaces/{a}/rolebindings",
        binding("carol-view", "ClusterRole", "view", [user("alice")], cluster=False),
    )
    assert view.status == 201, view.body


def test_edit_cannot_bind(rbac_server: StromServer, admin: Api, world: dict[str, Any]) -> None:
    b = world["b"]
    dave = as_token(rbac_server, rbac_server.user_tokens["dave"])
    create(
        admin,
        f"{RBAC}/namespaces/{b}/rolebindings",
        binding("dave-edit", "ClusterRole", "edit", [user("dave")], cluster=False),
    )
    reply = dave.post(
        f"{RBAC}/namespaces/{b}/rolebindings",
        binding("dave-root", "ClusterRole", "cluster-admin", [user("dave")], cluster=False),
    )
    assert reply.status == 403
    assert 'cannot create resource "rolebindings"' in reply.json["message"]


def test_bind_verb_allows_binding(
    rbac_server: StromServer, admin: Api, world: dict[str, Any]
) -> None:
    b = world["b"]
    alice = as_token(rbac_server, rbac_server.user_tokens["alice"])
    create(
        admin,
        f"{RBAC}/namespaces/{b}/roles",
        role(
            "binder",
            [
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["rolebindings"],
                    "verbs": ["create"],
                },
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["clusterroles"],
                    "verbs": ["bind"],
                    "resourceNames": ["edit"],
                },
            ],
        ),
    )
    create(
        admin,
        f"{RBAC}/namespaces/{b}/rolebindings",
        binding("alice-binder", "Role", "binder", [user("alice")], cluster=False),
    )
    ok = alice.post(
        f"{RBAC}/namespaces/{b}/rolebindings",
        binding("x-edit", "ClusterRole", "edit", [user("carol")], cluster=False),
    )
    assert ok.status == 201, ok.body
    refused = alice.post(
        f"{RBAC}/namespaces/{b}/rolebindings",
        binding("x-admin", "ClusterRole", "admin", [user("carol")], cluster=False),
    )
    assert refused.status == 403


def test_impersonation(rbac_server: StromServer, admin: Api, world: dict[str, Any]) -> None:
    a = world["a"]
    alice = as_token(rbac_server, rbac_server.user_tokens["alice"])
    refused = alice.get(
        "/api/v1/namespaces/default/configmaps", headers={"Impersonate-User": "bob"}
    )
    assert refused.status == 403
    assert refused.json["message"] == (
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API'
        ' group "" at the cluster scope'
    )
    as_alice = admin.get(
        f"/api/v1/namespaces/{a}/configmaps", headers={"Impersonate-User": "alice"}
    )
    assert as_alice.status == 200
    as_alice_b = admin.get(
        f"/api/v1/namespaces/{world['b']}/configmaps", headers={"Impersonate-User": "alice"}
    )
    assert as_alice_b.status == 403
    assert 'User "alice" cannot list' in as_alice_b.json["message"]
    # Groups come from the headers only: bob's devs group grants nodes.
    with_group = admin.get(
        "/api/v1/nodes", headers={"Impersonate-User": "zed", "Impersonate-Group": "devs"}
    )
    assert with_group.status == 200
    proc = kubectl_as(rbac_server.kubeconfig)("auth", "can-i", "list", "nodes", "--as", "alice")
    assert proc.stdout.strip() == "no"
    proc = kubectl_as(rbac_server.kubeconfig)(
        "auth", "can-i", "list", "nodes", "--as", "zed", "--as-group", "devs"
    )
    assert proc.stdout.strip() == "yes"


def test_subject_access_reviews(admin: Api, world: dict[str, Any]) -> None:
    a = world["a"]
    sar = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "resourceAttributes": {"namespace": a, "verb": "list", "resource": "configmaps"},
        },
    }
    reply = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert reply.status == 201
    assert reply.json["status"]["allowed"] is True
    assert reply.json["status"]["reason"].startswith('RBAC: allowed by RoleBinding "alice-cm/')
    sar["spec"]["resourceAttributes"]["namespace"] = world["b"]
    denied = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", sar).json
    assert denied["status"] == {"allowed": False}
    local = admin.post(
        f"/apis/authorization.k8s.io/v1/namespaces/{a}/localsubjectaccessreviews",
        {**sar, "kind": "LocalSubjectAccessReview"},
    )
    assert local.status == 422
    assert local.json["message"] == (
        'LocalSubjectAccessReview.authorization.k8s.io "" is invalid:'
        f' spec.resourceAttributes.namespace: Invalid value: "{world["b"]}": must match'
        " metadata.namespace"
    )
    bad = admin.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {}},
    )
    assert bad.status == 422
    assert bad.json["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: [spec.resourceAttributes:'
        ' Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes'
        ' must be specified, spec.user: Invalid value: "": at least one of user or group must'
        " be specified]"
    )


def test_token_review(admin: Api, world: dict[str, Any], rbac_server: StromServer) -> None:
    token = rbac_server.service_account_token(world["a"], "reader")
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    reply = admin.post("/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert reply.status == 201
    status = reply.json["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{world['a']}:reader"
    garbage = admin.post(
        "/apis/authentication.k8s.io/v1/tokenreviews",
        {**review, "spec": {"token": "not-a-token"}},
    ).json["status"]
    assert garbage["authenticated"] is False
    empty = admin.post("/apis/authentication.k8s.io/v1/tokenreviews", {**review, "spec": {}})
    assert empty.status == 400
    assert empty.json["message"] == "token is required for TokenReview in authentication"
    # alice may not review tokens.
    alice = as_token(rbac_server, rbac_server.user_tokens["alice"])
    assert alice.post("/apis/authentication.k8s.io/v1/tokenreviews", review).status == 403


def test_bad_credentials_are_401(rbac_server: StromServer, world: dict[str, Any]) -> None:
    token = rbac_server.service_account_token(world["a"], "reader")
    head, payload, signature = token.split(".")
    bad = [
        "garbage",
        "eyJhbGciOiJSUzI1NiJ9.eyJ",
        token[: len(token) // 2],
        f"{head}.{payload}.{signature[::-1]}",
        f"{head}.{payload}",
        "x" * 100_000,
        "e30.e30.",
    ]
    for value in bad:
        reply = as_token(rbac_server, value).get(f"/api/v1/namespaces/{world['a']}/configmaps")
        assert reply.status == 401, (value[:40], reply.status, reply.body[:200])
        assert reply.json["message"] == "Unauthorized"


def test_certificate_from_another_ca_fails_the_handshake(
    rbac_server: StromServer, tmp_path: Path
) -> None:
    """kube's Go TLS (VerifyClientCertIfGiven) aborts the handshake for an untrusted client
    certificate; so does strom: no HTTP answer at all, never a 500."""
    from strom.pki.certs import ensure_pki, issue_client_cert

    other = ensure_pki(cert_dir=tmp_path / "other", sans=[])
    issue_client_cert(
        ca=other,
        common_name="mallory",
        organizations=["system:masters"],
        out_crt=tmp_path / "m.crt",
        out_key=tmp_path / "m.key",
    )
    api = Api(rbac_server, token="")
    api.ctx.load_cert_chain(str(tmp_path / "m.crt"), str(tmp_path / "m.key"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        api.get("/api/v1/namespaces")


def test_role_rules_validation(admin: Api, world: dict[str, Any]) -> None:
    a = world["a"]
    odd = admin.post(
        f"{RBAC}/namespaces/{a}/roles",
        role("odd-verbs", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["frobnicate"]}]),
    )
    assert odd.status == 201, odd.body  # kube accepts verbs it does not know
    none = admin.post(
        f"{RBAC}/namespaces/{a}/roles",
        role("no-verbs", [{"apiGroups": [""], "resources": ["pods"], "verbs": []}]),
    )
    assert none.status == 422
    assert none.json["message"] == (
        'Role.rbac.authorization.k8s.io "no-verbs" is invalid: rules[0].verbs: Required value:'
        " verbs must contain at least one value"
    )
    urls = admin.post(
        f"{RBAC}/namespaces/{a}/roles",
        role("urls", [{"nonResourceURLs": ["/x"], "verbs": ["get"]}]),
    )
    assert urls.status == 422
    assert "namespaced rules cannot apply to non-resource URLs" in urls.json["message"]
