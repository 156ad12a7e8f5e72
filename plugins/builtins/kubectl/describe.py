"""`describe` in kubectl's layout: each kind has kubectl's describer (pods here, workloads
in describe_apps, the rest in describe_core); any other kind, CRDs included, kubectl's
generic form. Lines are aligned by output.tabwrite as Go's tabwriter aligns them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from bot import kube as cluster

from . import (
    describe_apps,
    describe_core,
    describe_hpa,
    describe_namespaces,
    describe_nodes,
    describe_policy,
    describe_storage,
)
from .describe_parts import (
    Lines,
    annotations,
    conditions,
    containers,
    controller,
    go_value,
    header,
    labels,
    terminating,
    tolerations,
    volumes,
    when,
)
from .output import describe_events_lines, tabwrite

Obj = dict[str, Any]


class Lookup:
    """The further reads a describer makes (its pods, replica sets, endpoint slices…);
    None when the API refused, which the describers show as kubectl does."""

    def __init__(self, api: cluster.Api) -> None:
        self.api = api

    def items(self, path: str, what: str, **query: str) -> list[Obj] | None:
        found = self.get(path, what, **query)
        return None if isinstance(found, str) else found.get("items") or []

    def get(self, path: str, what: str, **query: str) -> Obj | str:
        """The object (or list), or the API server's reason it could not be read."""
        try:
            return cluster.request(self.api, path, query=query, what=what)
        except cluster.ClusterError as exc:
            return exc.reason or str(exc)


Describer = Callable[[Obj, Sequence[Obj], Lookup], list[str]]


def describe_pod(pod: Obj, events: Sequence[Obj], lookup: Lookup | None = None) -> list[str]:
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    if spec.get("priority") is not None:
        out.add(0, "Priority:", str(spec["priority"]))
    for key, label in (("priorityClassName", "Priority Class Name"),
                       ("runtimeClassName", "Runtime Class Name"),
                       ("serviceAccountName", "Service Account")):
        if spec.get(key):
            out.add(0, f"{label}:", spec[key])
    node = spec.get("nodeName")
    out.add(0, "Node:", f"{node}/{status.get('hostIP', '')}" if node else "<none>")
    if status.get("startTime"):
        out.add(0, "Start Time:", when(status["startTime"]))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    _pod_status(out, meta, status)
    out.add(0, "IP:", status.get("podIP", ""))
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or []]
    out.add(0, "IPs:", *([] if ips else ["<none>"]))
    for ip in ips:
        out.add(1, "IP:", ip)
    if controller(meta):
        out.add(0, "Controlled By:", controller(meta))
    if status.get("nominatedNodeName"):
        out.add(0, "NominatedNodeName:", status["nominatedNodeName"])
    if spec.get("initContainers"):
        containers(out, "Init Containers", spec["initContainers"],
                   status.get("initContainerStatuses") or [], pod=pod)
    containers(out, "Containers", spec.get("containers") or [],
               status.get("containerStatuses") or [], pod=pod)
    _readiness_gates(out, spec.get("readinessGates") or [], status.get("conditions") or [])
    conditions(out, status.get("conditions") or [], with_reason=False)
    volumes(out, spec.get("volumes") or [])
    out.add(0, "QoS Class:", status.get("qosClass") or _qos(spec))
    out.multiline("Node-Selectors", labels(spec.get("nodeSelector")))
    out.multiline("Tolerations", tolerations(spec.get("tolerations") or []))
    return out.lines + describe_events_lines(events)


def _pod_status(out: Lines, meta: Obj, status: Obj) -> None:
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        out.add(0, "Status:", terminating(meta))
        out.add(0, "Termination Grace Period:", f"{meta.get('deletionGracePeriodSeconds', 0)}s")
    else:
        out.add(0, "Status:", phase)
    for key in ("reason", "message"):
        if status.get(key):
            out.add(0, f"{key.capitalize()}:", status[key])


def _readiness_gates(out: Lines, gates: Sequence[Obj], found: Sequence[Obj]) -> None:
    if not gates:
        return
    out.lines += ["Readiness Gates:", "  Type\tStatus"]
    by_type = {c["type"]: c["status"] for c in found}
    out.lines += [f"  {g['conditionType']} \t{by_type.get(g['conditionType'], '<none>')} "
                  for g in gates]


def _qos(spec: Obj) -> str:
    """What kubectl computes when the status has no QoS class (k8s.io/kubectl qos)."""
    everything = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    resources = [c.get("resources") or {} for c in everything]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        all((r.get("limits") or {}).get(name) and (r.get("requests") or {}).get(
            name, (r.get("limits") or {}).get(name)) == (r.get("limits") or {}).get(name)
            for name in ("cpu", "memory")) for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


GENERIC_SKIP = {".metadata.managedFields", ".metadata.name", ".metadata.namespace",
                ".metadata.labels", ".metadata.annotations"}


def describe_generic(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    """kubectl's form for kinds without a describer (CRDs): every field, sorted, indented."""
    meta = obj["metadata"]
    out = Lines()
    header(out, meta)
    _fields(out, 0, obj, "")
    return out.lines + describe_events_lines(events)


def _fields(out: Lines, level: int, content: Obj, prefix: str) -> None:
    for field in sorted(content):
        value, path = content[field], f"{prefix}.{field}"
        if path in GENERIC_SKIP:
            continue
        if isinstance(value, dict):
            out.add(level, f"{smart_label(field)}:")
            _fields(out, level + 1, value, path)
        elif isinstance(value, list):
            out.add(level, f"{smart_label(field)}:")
            for child in value:
                if isinstance(child, dict):
                    _fields(out, level + 1, child, path)
                else:
                    out.add(level + 1, go_value(child))
        else:
            out.add(level, f"{smart_label(field)}:", go_value(value))


ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}
CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+")


def smart_label(field: str) -> str:
    """smartLabelFor: "observedGeneration" is "Observed Generation", "apiVersion" is "API
    Version"; names with other than letters and '-' stay as they are."""
    if not re.fullmatch(r"[A-Za-z-]+", field):
        return field
    parts = [p for p in CAMEL.findall(field) if p != "_"]
    return " ".join(p.upper() if p.upper() in ACRONYMS else p[:1].upper() + p[1:].lower()
                    for p in parts)


DESCRIBERS: dict[str, Describer] = {
    "Pod": describe_pod, **describe_apps.DESCRIBERS, **describe_core.DESCRIBERS,
    **describe_hpa.DESCRIBERS, **describe_namespaces.DESCRIBERS, **describe_nodes.DESCRIBERS,
    **describe_storage.DESCRIBERS, **describe_policy.DESCRIBERS}


def describe_object(api: cluster.Api, obj: Obj, events: Sequence[Obj]) -> str:
    """kubectl describe's text for one object (Secrets come masked)."""
    describer = DESCRIBERS.get(obj.get("kind", ""), describe_generic)
    return tabwrite(describer(obj, events, Lookup(api)))
