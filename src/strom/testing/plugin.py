"""pytest plugin (entry point `pytest11`): a real strom API server for operator tests.

    def test_my_operator(strom_server):
        kubernetes.config.load_kube_config(config_file=str(strom_server.kubeconfig))
        ...

`strom_server` is one server for the whole session (fast); `strom_server_factory()` starts a
fresh one per call, with its own data directory, stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strom.testing.server import StromServer, start_server

__all__ = ["strom_server", "strom_server_factory"]


@pytest.fixture(scope="session")
def strom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StromServer]:
    server = start_server(tmp_path_factory.mktemp("strom-session"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def strom_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., StromServer]]:
    started: list[StromServer] = []

    def factory(*extra_args: str, data_dir: Path | None = None) -> StromServer:
        server = start_server(data_dir or tmp_path_factory.mktemp("strom"), *extra_args)
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in started:
            server.stop()
