"""The new user's tour with real kubectl: apply, get, label, annotate, patch, delete, explain."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

import pytest

from .conftest import Api, wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: {ns}
data:
  mode: fast
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: {ns}
stringData:
  password: hunter2
---
apiVersion: v1
kind: Pod
metadata:
  name: app-pod
  namespace: {ns}
  labels:
    app: demo
spec:
  containers:
  - name: main
    image: nginx:1.27
    ports:
    - containerPort: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: demo
  template:
    metadata:
      labels:
        app: demo
    spec:
      containers:
      - name: main
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata:
  name: app-svc
  namespace: {ns}
spec:
  selector:
    app: demo
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: {plural}
    singular: {singular}
    kind: {kind}
    shortNames: [{short}]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
    additionalPrinterColumns:
    - name: Color
      type: string
      jsonPath: .spec.color
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color:
                type: string
              size:
                type: integer
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
apiVersion: example.com/v1
kind: {kind}
metadata:
  name: first
  namespace: {ns}
spec:
  color: blue
  size: 3
"""


@pytest.fixture
def tour(kubectl: Kubectl) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {
        "ns": f"tour-{suffix}",
        "plural": f"widgets{suffix}",
        "singular": f"widget{suffix}",
        "kind": f"Widget{suffix.capitalize()}",
        "short": f"wd{suffix}",
    }
    kubectl("create", "namespace", names["ns"])
    return names


def _no_warnings(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Warning" not in proc.stderr and "warning" not in proc.stderr.lower(), proc.stderr


def test_apply_twice_get_label_annotate_patch_delete(
    kubectl: Kubectl, tour: dict[str, str]
) -> None:
    ns = tour["ns"]
    manifest = MANIFEST.format(**tour)
    # As on a real cluster, the custom resource cannot be mapped before its CRD exists: the
    # first apply creates everything else and says "ensure CRDs are installed first".
    first = kubectl("apply", "-f", "-", input=manifest, check=False)
    assert first.returncode == 1
    assert first.stdout.count("created") == 6, first.stdout
    assert "ensure CRDs are installed first" in first.stderr, first.stderr
    second = kubectl("apply", "-f", "-", input=manifest)
    _no_warnings(second)
    assert f"{tour['singular']}.example.com/first created" in second.stdout, second.stdout
    third = kubectl("apply", "-f", "-", input=manifest)
    _no_warnings(third)
    lines = third.stdout.strip().splitlines()
    assert len(lines) == 7
    assert all(line.endswith(("unchanged", "configured")) for line in lines), lines

    pods = kubectl("get", "pods", "-n", ns)
    assert pods.stdout.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "app-pod" in pods.stdout and "Pending" in pods.stdout
    deploys = kubectl("get", "deployments", "-n", ns)
    assert deploys.stdout.split("\n")[0].split() == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
    ]
    wide = kubectl("get", "pods", "-n", ns, "-o", "wide")
    assert "NOMINATED NODE" in wide.stdout
    as_json = json.loads(kubectl("get", "configmap", "app-config", "-n", ns, "-o", "json").stdout)
    assert as_json["data"] == {"mode": "fast"}
    as_yaml = kubectl("get", "secret", "app-secret", "-n", ns, "-o", "yaml").stdout
    assert "password: aHVudGVyMg==" in as_yaml
    custom = kubectl("get", tour["short"], "-n", ns)
    # Declared printer columns replace the defaults (no AGE), as on kube-apiserver.
    assert custom.stdout.split("\n")[0].split() == ["NAME", "COLOR"], custom.stdout
    assert "blue" in custom.stdout

    kubectl("label", "configmap", "app-config", "-n", ns, "tier=backend")
    kubectl("annotate", "configmap", "app-config", "-n", ns, "note=hello")
    kubectl(
        "patch",
        "configmap",
        "app-config",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"data":{"merged":"yes"}}',
    )
    kubectl(
        "patch",
        "configmap",
        "app-config",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"add","path":"/data/json","value":"yes"}]',
    )
    kubectl(
        "patch",
        "deployment",
        "app",
        "-n",
        ns,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"nginx:1.28"}]}}}}',
    )
    cm = json.loads(kubectl("get", "configmap", "app-config", "-n", ns, "-o", "json").stdout)
    assert cm["metadata"]["labels"] == {"tier": "backend"}
    assert cm["metadata"]["annotations"]["note"] == "hello"
    assert cm["data"] == {"mode": "fast", "merged": "yes", "json": "yes"}
    dep = json.loads(kubectl("get", "deployment", "app", "-n", ns, "-o", "json").stdout)
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("main", "nginx:1.28")]
    assert dep["metadata"]["generation"] == 2

    deleted = kubectl("delete", "configmap", "app-config", "-n", ns)
    assert 'configmap "app-config" deleted' in deleted.stdout
    gone = kubectl("get", "configmap", "app-config", "-n", ns, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_discovery_commands(kubectl: Kubectl) -> None:
    resources = kubectl("api-resources")
    _no_warnings(resources)
    header = resources.stdout.splitlines()[0].split()
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert any(line.split()[:2] == ["pods", "po"] for line in resources.stdout.splitlines())
    versions = kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "batch/v1", "apiextensions.k8s.io/v1"} <= set(versions)
    explain = kubectl("explain", "pod.spec.containers")
    _no_warnings(explain)
    assert "FIELD: containers" in explain.stdout and "image" in explain.stdout
    ready = kubectl("get", "--raw", "/readyz?verbose")
    assert ready.stdout.strip().endswith("readyz check passed")
    whoami = kubectl("auth", "whoami")
    assert "admin" in whoami.stdout and "system:masters" in whoami.stdout


def test_namespace_lifecycle(kubectl: Kubectl, api: Api) -> None:
    name = f"life-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    wait_for(
        lambda: api.get(f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt").status == 200,
        what="kube-root-ca.crt",
    )
    kubectl("create", "configmap", "x", "-n", name, "--from-literal=a=b")
    kubectl("delete", "namespace", name, "--wait=true", timeout=60)
    assert api.get(f"/api/v1/namespaces/{name}").status == 404
    assert api.get(f"/api/v1/namespaces/{name}/configmaps/x").status == 404
