"""kubectl's node describer: conditions, addresses, capacity, its lease, and the pods on it
with what they request against what the node can allocate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.kube.names import api_path

from .describe_parts import Lines, annotations, labels, taint, when
from .output import age, describe_events_lines
from .quantity import ZERO, Quantity, total

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]
ROLE_PREFIX = "node-role.kubernetes.io/"
SYSTEM_INFO = (("Machine ID", "machineID"), ("System UUID", "systemUUID"),
               ("Boot ID", "bootID"), ("Kernel Version", "kernelVersion"),
               ("OS Image", "osImage"), ("Operating System", "operatingSystem"),
               ("Architecture", "architecture"),
               ("Container Runtime Version", "containerRuntimeVersion"),
               ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion"))


def roles(node_labels: Obj) -> str:
    found = {k.removeprefix(ROLE_PREFIX) for k in node_labels
             if k.startswith(ROLE_PREFIX) and k != ROLE_PREFIX}
    if node_labels.get("kubernetes.io/role"):
        found.add(node_labels["kubernetes.io/role"])
    return ",".join(sorted(found)) or "<none>"


def describe_node(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Roles:", roles(meta.get("labels") or {}))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    out.add(0, "CreationTimestamp:", when(meta.get("creationTimestamp")))
    out.multiline("Taints", [taint(t) for t in sorted(
        spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")])
    out.add(0, "Unschedulable:", "true" if spec.get("unschedulable") else "false")
    _lease(out, lookup, meta["name"])
    _conditions(out, status.get("conditions") or [])
    out.lines.append("Addresses:")
    for address in status.get("addresses") or []:
        out.add(1, f"{address.get('type', '')}:", address.get("address", ""))
    for key in ("capacity", "allocatable"):
        if status.get(key):
            out.lines.append(f"{key.capitalize()}:")
            for name, value in sorted(status[key].items()):
                out.add(1, f"{name}:", str(Quantity.parse(value)))
    out.lines.append("System Info:")
    info = status.get("nodeInfo") or {}
    for label, key in SYSTEM_INFO:
        out.add(1, f"{label}:", info.get(key, ""))
    if spec.get("podCIDR"):
        out.add(0, "PodCIDR:", spec["podCIDR"])
    if spec.get("podCIDRs"):
        out.add(0, "PodCIDRs:", ",".join(spec["podCIDRs"]))
    if spec.get("providerID"):
        out.add(0, "ProviderID:", spec["providerID"])
    pods = lookup.items("/api/v1/pods", "listing pods on the node",
                        fieldSelector=f"spec.nodeName={meta['name']},status.phase!=Succeeded,"
                        "status.phase!=Failed")
    if pods is None:
        out.add(0, "Pods:", "not authorized")
    else:
        _pods(out, pods, status.get("allocatable") or status.get("capacity") or {})
    return out.lines + describe_events_lines(events)


def _lease(out: Lines, lookup: Lookup, name: str) -> None:
    lease = lookup.get(api_path("/apis/coordination.k8s.io/v1", "leases",
                                namespace="kube-node-lease", name=name),
                       f"reading the lease of node {name}")
    if isinstance(lease, str):
        out.add(0, "Lease:", f"Failed to get lease: {lease}")
        return
    spec = lease.get("spec") or {}
    out.lines.append("Lease:")
    out.add(1, "HolderIdentity:", spec.get("holderIdentity", "<unset>"))
    for key, label in (("acquireTime", "AcquireTime"), ("renewTime", "RenewTime")):
        out.add(1, f"{label}:", when(spec[key]) if spec.get(key) else "<unset>")


def _conditions(out: Lines, conditions: Sequence[Obj]) -> None:
    if not conditions:
        return
    out.lines += ["Conditions:",
                  "  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
                  "  ----\t------\t-----------------\t------------------\t------\t-------"]
    for c in conditions:
        out.add(1, f"{c.get('type', '')} ", f"{c.get('status', '')} ",
                f"{when(c.get('lastHeartbeatTime'))} ", f"{when(c.get('lastTransitionTime'))} ",
                f"{c.get('reason', '')} ", c.get("message", ""))


def pod_totals(pod: Obj, key: str) -> dict[str, Quantity]:
    """PodRequests/PodLimits: the containers' sum, at least each init container's."""
    spec = pod.get("spec", {})
    sums: dict[str, list[object]] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            sums.setdefault(name, []).append(value)
    result = {name: total(values) for name, values in sums.items()}
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            quantity = Quantity.parse(value)
            if quantity.value > result.get(name, ZERO).value:
                result[name] = quantity
    return result


def _pct(used: Quantity, allocatable: Obj, name: str) -> int:
    whole = Quantity.parse(allocatable.get(name, 0))
    scale = (lambda q: q.milli()) if name == "cpu" else (lambda q: q.whole())
    return int(scale(used) / scale(whole) * 100) if scale(whole) else 0


def _pods(out: Lines, pods: Sequence[Obj], allocatable: Obj) -> None:
    out.add(0, "Non-terminated Pods:", f"({len(pods)} in total)")
    out.add(1, "Namespace", "Name", "", "CPU Requests", "CPU Limits", "Memory Requests",
            "Memory Limits", "Age")
    out.add(1, "---------", "----", "", "------------", "----------", "---------------",
            "-------------", "---")
    requests, limits = [pod_totals(p, "requests") for p in pods], [
        pod_totals(p, "limits") for p in pods]
    for pod, req, lim in zip(pods, requests, limits, strict=True):
        cells = [f"{q} ({_pct(q, allocatable, name)}%)" for q, name in (
            (req.get("cpu", ZERO), "cpu"), (lim.get("cpu", ZERO), "cpu"),
            (req.get("memory", ZERO), "memory"), (lim.get("memory", ZERO), "memory"))]
        out.add(1, pod["metadata"].get("namespace", ""), pod["metadata"]["name"], "", *cells,
                age(pod["metadata"].get("creationTimestamp")))
    out.lines += ["Allocated resources:",
                  "  (Total limits may be over 100 percent, i.e., overcommitted.)"]
    out.add(1, "Resource", "Requests", "Limits")
    out.add(1, "--------", "--------", "------")
    for name in ("cpu", "memory", "ephemeral-storage"):
        req = _sum([r.get(name) for r in requests])
        lim = _sum([r.get(name) for r in limits])
        out.add(1, name, f"{req} ({_pct(req, allocatable, name)}%)",
                f"{lim} ({_pct(lim, allocatable, name)}%)")
    for name in sorted(allocatable):
        if name.startswith("hugepages-"):
            req, lim = _sum([r.get(name) for r in requests]), _sum([r.get(name) for r in limits])
            out.add(1, name, f"{req} ({_pct(req, allocatable, name)}%)",
                    f"{lim} ({_pct(lim, allocatable, name)}%)")


def _sum(values: Sequence[Quantity | None]) -> Quantity:
    present = [v for v in values if v is not None]
    if not present:
        return ZERO
    result = present[0]
    for value in present[1:]:
        result = result + value
    return result


DESCRIBERS: dict[str, Describer] = {"Node": describe_node}
