"""pytest plugin (entry point `pytest11`): a real strom API server for operator tests.

    def test_my_operator(strom_server):
        kubernetes.config.load_kube_config(config_file=str(strom_server.kubeconfig))
        ...

`strom_server` is one server for the whole session (fast); `strom_server_factory()` starts a
fresh one per call, with its own data directory, stopped when the test ends.

    def test_reconciles(strom_namespace, strom_kubeconfig, strom_server):
        # KUBECONFIG points at the server for this test; the namespace is fresh and goes after
        run_my_operator_once(namespace=strom_namespace)
        patches = strom_server.requests(verb="patch", resource="configmaps", at_least=1)

`strom_server` records every request (an audit log at Metadata level), so a test can assert
what its code asked the API server for: `requests(verb=, resource=, namespace=, name=,
subresource=, user=)` returns the finished requests as audit events.

RBAC is enforced, so a test can run its code as exactly the identity it has in production:

    server = strom_server_factory(token_users={"alice": ["dev"]})
    alice = server.token_user_kubeconfig("alice")           # token-file user in group dev
    bob = server.user_kubeconfig("bob", groups=["ops"])     # client certificate
    op = server.service_account_kubeconfig("ops", "my-operator")  # TokenRequest token

`--strom-store etcd` (or STROM_TEST_STORE=etcd) runs every such server on a real etcd (Debian's
`etcd-server`), started once per session on a free loopback port; each server gets its own
key prefix, so servers do not see each other's objects.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from strom.testing.server import StromServer, start_server

__all__ = [
    "strom_kubeconfig",
    "strom_namespace",
    "strom_server",
    "strom_server_factory",
    "strom_store_args",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--strom-store",
        choices=("sqlite", "etcd"),
        default=os.environ.get("STROM_TEST_STORE", "sqlite"),
        help="storage backend of the strom servers the fixtures start (default sqlite)",
    )


@pytest.fixture(scope="session")
def strom_store_args(request: pytest.FixtureRequest) -> Iterator[Callable[[], tuple[str, ...]]]:
    """A function giving `strom serve` arguments for the selected store (a fresh etcd prefix
    per call)."""
    store = request.config.getoption("--strom-store")
    if store != "etcd":
        yield lambda: ()
        return
    from strom.testing.etcd import start_etcd

    cluster = start_etcd(members=1)
    endpoints = ",".join(f"http://{e}" for e in cluster.endpoints)
    try:
        yield lambda: (
            "--storage",
            "etcd",
            "--etcd-servers",
            endpoints,
            "--etcd-prefix",
            f"/strom-{uuid.uuid4().hex[:12]}",
        )
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def strom_server(
    tmp_path_factory: pytest.TempPathFactory, strom_store_args: Callable[[], tuple[str, ...]]
) -> Iterator[StromServer]:
    server = start_server(
        tmp_path_factory.mktemp("strom-session"), *strom_store_args(), record_requests=True
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def strom_kubeconfig(strom_server: StromServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Opt-in: `KUBECONFIG` is the session server's admin kubeconfig for this test (clients
    that read the environment, kubectl and kopf included, talk to strom)."""
    monkeypatch.setenv("KUBECONFIG", str(strom_server.kubeconfig))
    return strom_server.kubeconfig


@pytest.fixture
def strom_namespace(strom_server: StromServer) -> Iterator[str]:
    """A fresh namespace (with its `default` ServiceAccount) for one test, deleted after."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    strom_server.create_namespace(name)
    try:
        yield name
    finally:
        strom_server.delete_namespace(name)


@pytest.fixture
def strom_server_factory(
    tmp_path_factory: pytest.TempPathFactory, strom_store_args: Callable[[], tuple[str, ...]]
) -> Iterator[Callable[..., StromServer]]:
    started: list[StromServer] = []

    def factory(
        *extra_args: str,
        data_dir: Path | None = None,
        token_users: Mapping[str, Sequence[str]] | None = None,
        record_requests: bool = False,
    ) -> StromServer:
        server = start_server(
            data_dir or tmp_path_factory.mktemp("strom"),
            *strom_store_args(),
            *extra_args,
            token_users=token_users,
            record_requests=record_requests,
        )
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in started:
            server.stop()
