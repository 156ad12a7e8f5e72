"""What kube-controller-manager's EndpointSlice controller would have made of the fake's
Endpoints fixtures: one slice per subset (a subset is one set of ports), ready and not-ready
addresses as endpoints with their `ready` condition, and the empty placeholder slice a
service without endpoints gets. kubectl ≥ 1.31 describes services from these."""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def mirrored(endpoints: Obj) -> list[Obj]:
    meta = endpoints["metadata"]
    subsets = endpoints.get("subsets") or [{}]  # none: the controller's placeholder slice
    return [_slice(meta, subset, index) for index, subset in enumerate(subsets)]


def _slice(meta: Obj, subset: Obj, index: int) -> Obj:
    digest = hashlib.sha256(f"{meta.get('uid', meta['name'])}/{index}".encode()).hexdigest()
    ready = [(a, True) for a in subset.get("addresses") or []]
    not_ready = [(a, False) for a in subset.get("notReadyAddresses") or []]
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": f"{meta['name']}-{digest[:5]}", "namespace": meta.get("namespace"),
            "uid": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
            "resourceVersion": meta.get("resourceVersion", "1"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "labels": {SERVICE_NAME: meta["name"],
                       MANAGED_BY: "endpointslice-controller.k8s.io"}},
        "addressType": "IPv6" if ":" in _first_ip(subset) else "IPv4",
        "endpoints": [_endpoint(address, is_ready) for address, is_ready in ready + not_ready],
        "ports": [{"name": p.get("name", ""), "port": p.get("port"),
                   "protocol": p.get("protocol", "TCP")} for p in subset.get("ports") or []],
    }


def _endpoint(address: Obj, ready: bool) -> Obj:
    endpoint: Obj = {"addresses": [address["ip"]],
                     "conditions": {"ready": ready, "serving": ready, "terminating": False}}
    for key in ("nodeName", "targetRef"):
        if address.get(key):
            endpoint[key] = address[key]
    return endpoint


def _first_ip(subset: Obj) -> str:
    return next((a["ip"] for key in ("addresses", "notReadyAddresses")
                 for a in subset.get(key) or []), "")
