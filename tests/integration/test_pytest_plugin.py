"""The pytest plugin as an operator author uses it: a project of their own (with an
`operator.py` that would shadow the standard library's `operator`), fixtures for a fresh
namespace and KUBECONFIG, and assertions on the requests their code made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_TEST = """
import os
import subprocess
import sys
from pathlib import Path

import kubernetes


def test_operator_writes_a_configmap(strom_server, strom_namespace, strom_kubeconfig):
    assert os.environ["KUBECONFIG"] == str(strom_kubeconfig)
    # kubectl reads KUBECONFIG when it runs (the Python client at import: pass the path)
    kubectl = str(Path(sys.executable).parent / "kubectl")
    out = subprocess.run(
        [kubectl, "get", "serviceaccount", "default", "-n", strom_namespace, "-o", "name"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert out.strip() == "serviceaccount/default"
    kubernetes.config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    core = kubernetes.client.CoreV1Api()
    core.create_namespaced_config_map(strom_namespace, {"metadata": {"name": "made"}})
    core.patch_namespaced_config_map("made", strom_namespace, {"data": {"k": "v"}})
    patches = strom_server.requests(
        verb="patch", resource="configmaps", namespace=strom_namespace, at_least=1
    )
    assert [p["objectRef"]["name"] for p in patches] == ["made"]
    assert patches[0]["user"]["username"] == "admin"
    assert strom_server.requests(verb="create", namespace=strom_namespace, at_least=1)
"""


def test_plugin_in_a_users_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "operator.py").write_text("raise SystemExit('the user module was imported')\n")
    (project / "test_my_operator.py").write_text(PROJECT_TEST)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KUBECONFIG")}
    done = subprocess.run(
        # the `pytest` command, as a user runs it (`python -m` would put the project's
        # operator.py before the standard library in pytest itself)
        [str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
