"""ClusterIP allocation: unique addresses from --service-cluster-ip-range, one per IP family
as ipFamilyPolicy asks, named addresses checked, freed with the Service."""

from __future__ import annotations

import ipaddress
from typing import Any

from .conftest import Api


def _svc(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


def test_single_stack_allocation_and_checks(api: Api, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    created = api.post(base, _svc("a"))
    assert created.status == 201, created.body
    spec = created.json["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    taken = api.post(base, _svc("b", clusterIP=spec["clusterIP"]))
    assert taken.status == 422
    assert taken.json["message"] == (
        f'Service "b" is invalid: spec.clusterIPs: Invalid value: ["{spec["clusterIP"]}"]: failed'
        f" to allocate IP {spec['clusterIP']}: provided IP is already allocated"
    )
    outside = api.post(base, _svc("c", clusterIP="192.168.7.7"))
    assert outside.status == 422
    assert (
        "the provided IP (192.168.7.7) is not in the valid range. The range of valid IPs is"
        " 10.96.0.0/12" in outside.json["message"]
    )
    dual = api.post(base, _svc("d", ipFamilyPolicy="RequireDualStack"))
    assert dual.status == 422
    assert (
        'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured'
        " for dual-stack services" in dual.json["message"]
    )
    v6 = api.post(base, _svc("e", ipFamilies=["IPv6"]))
    assert (
        v6.status == 422
        and 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster'
        in v6.json["message"]
    )
    prefer = api.post(base, _svc("f", ipFamilyPolicy="PreferDualStack"))
    assert prefer.status == 201 and prefer.json["spec"]["ipFamilies"] == ["IPv4"]
    headless = api.post(base, _svc("g", clusterIP="None"))
    assert headless.status == 201 and headless.json["spec"]["clusterIPs"] == ["None"]
    # deleting frees the address
    assert api.delete(f"{base}/a").status == 200
    assert api.post(base, _svc("b", clusterIP=spec["clusterIP"])).status == 201


def test_dual_stack_cluster(strom_server_factory: Any) -> None:
    server = strom_server_factory("--service-cluster-ip-range", "10.200.0.0/16,fd00:10::/108")
    api = Api(server)
    base = "/api/v1/namespaces/default/services"
    single = api.post(base, _svc("single")).json["spec"]
    assert single["ipFamilies"] == ["IPv4"] and len(single["clusterIPs"]) == 1
    both = api.post(base, _svc("both", ipFamilyPolicy="PreferDualStack")).json["spec"]
    assert both["ipFamilies"] == ["IPv4", "IPv6"]
    v4, v6 = (ipaddress.ip_address(ip) for ip in both["clusterIPs"])
    assert v4 in ipaddress.ip_network("10.200.0.0/16") and v6 in ipaddress.ip_network(
        "fd00:10::/108"
    )
    assert both["clusterIP"] == both["clusterIPs"][0]
    v6_first = api.post(
        base, _svc("six", ipFamilies=["IPv6", "IPv4"], ipFamilyPolicy="RequireDualStack")
    )
    assert v6_first.status == 201, v6_first.body
    assert ipaddress.ip_address(v6_first.json["spec"]["clusterIP"]).version == 6
