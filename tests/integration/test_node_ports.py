"""NodePort allocation: from the node port range, unique, kept across updates, released on
delete and on a change of type; a named port checked as kube checks it."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def _svc(name: str, kind: str = "NodePort", **port: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80, **port}]},
    }


def test_node_ports_allocated_unique_and_kept(api: Api, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    first = api.post(base, _svc("a"))
    assert first.status == 201, first.body
    port = first.json["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    lb = api.post(base, _svc("lb", "LoadBalancer"))
    assert lb.status == 201
    assert lb.json["spec"]["ports"][0]["nodePort"] != port
    # an update that leaves nodePort out keeps it
    current = api.get(f"{base}/a").json
    current["spec"]["ports"][0].pop("nodePort")
    current["metadata"]["labels"] = {"x": "y"}
    updated = api.put(f"{base}/a", current)
    assert updated.status == 200, updated.body
    assert updated.json["spec"]["ports"][0]["nodePort"] == port
    # the same port for another Service is refused, with kube's words
    taken = api.post(base, _svc("b", nodePort=port))
    assert taken.status == 422
    assert taken.json["message"] == (
        f'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port'
        " is already allocated"
    )
    outside = api.post(base, _svc("c", nodePort=8080))
    assert outside.status == 422
    assert (
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
        in (outside.json["message"])
    )
    # deleting the owner frees the port
    assert api.delete(f"{base}/a").status == 200
    reused = api.post(base, _svc("b", nodePort=port))
    assert reused.status == 201, reused.body
    assert reused.json["spec"]["ports"][0]["nodePort"] == port


def test_type_change_drops_node_ports(api: Api, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    created = api.post(base, _svc("t")).json
    port = created["spec"]["ports"][0]["nodePort"]
    created["spec"]["type"] = "ClusterIP"
    changed = api.put(f"{base}/t", created)
    assert changed.status == 200, changed.body
    assert "nodePort" not in changed.json["spec"]["ports"][0]
    # now free for someone else
    assert api.post(base, _svc("u", nodePort=port)).status == 201
    cluster_ip = api.post(base, _svc("v", "ClusterIP"))
    assert "nodePort" not in cluster_ip.json["spec"]["ports"][0]


def test_node_port_range_flag(strom_server_factory: Any) -> None:
    server = strom_server_factory("--service-node-port-range", "31000-31001")
    api = Api(server)
    base = "/api/v1/namespaces/default/services"
    ports = {api.post(base, _svc(f"r{i}")).json["spec"]["ports"][0]["nodePort"] for i in range(2)}
    assert ports == {31000, 31001}
    full = api.post(base, _svc("r2"))
    assert full.status == 500  # kube: the allocator's "range is full" as an internal error
    assert api.get(f"{base}/r2").status == 404
