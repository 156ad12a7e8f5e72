"""kubectl-style output: tables with kubectl's columns and AGE, names, YAML/JSON, describe.

Secret values never leave this module: a Secret's `data`/`stringData` become key sizes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

Obj = dict[str, Any]


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's HumanDuration."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [list(headers), *rows]]
    return "\n".join(lines)


def _created(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


def pod_status(pod: Obj) -> str:
    status = pod.get("status", {})
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for c in status.get("initContainerStatuses") or []:
        state = c.get("state", {})
        if "waiting" in state or ("terminated" in state and state["terminated"].get(
                "exitCode")):
            reason = (state.get("waiting") or state.get("terminated") or {}).get("reason")
            return f"Init:{reason}" if reason else "Init:0/1"
    reason = status.get("reason") or status.get("phase", "Unknown")
    for c in status.get("containerStatuses") or []:
        state = c.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def _pod(o: Obj, wide: bool) -> list[str]:
    statuses = o.get("status", {}).get("containerStatuses") or []
    total = len(o["spec"].get("containers", []))
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    row = [o["metadata"]["name"], f"{ready}/{total}", pod_status(o), str(restarts), _created(o)]
    if wide:
        row += [o.get("status", {}).get("podIP", "<none>"), o["spec"].get("nodeName", "<none>")]
    return row


def _ports(service: Obj) -> str:
    ports = [f"{p['port']}" + (f":{p['nodePort']}" if p.get("nodePort") else "")
             + f"/{p.get('protocol', 'TCP')}" for p in service["spec"].get("ports", [])]
    return ",".join(ports) or "<none>"


def _node_status(node: Obj) -> str:
    ready = next((c for c in node.get("status", {}).get("conditions", [])
                  if c["type"] == "Ready"), None)
    status = "Ready" if ready and ready["status"] == "True" else "NotReady"
    return status + (",SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else "")


def _roles(node: Obj) -> str:
    roles = [k.split("/", 1)[1] for k in node["metadata"].get("labels", {})
             if k.startswith("node-role.kubernetes.io/")]
    return ",".join(sorted(roles)) or "<none>"


def _hpa_targets(h: Obj) -> str:
    metrics = h["spec"].get("metrics") or []
    target = metrics[0].get("resource", {}).get("target", {}) if metrics else {}
    value = target.get("averageUtilization")
    return f"<unknown>/{value}%" if value is not None else "<none>"


Columns = tuple[Sequence[str], Callable[[Obj, bool], list[str]], Sequence[str]]

COLUMNS: dict[str, Columns] = {
    "Pod": (("NAME", "READY", "STATUS", "RESTARTS", "AGE"), _pod, ("IP", "NODE")),
    "Deployment": (("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"), lambda o, w: [
        o["metadata"]["name"],
        f"{o['status'].get('readyReplicas', 0)}/{o['spec'].get('replicas', 0)}",
        str(o["status"].get("updatedReplicas", 0)), str(o["status"].get("availableReplicas", 0)),
        _created(o)], ()),
    "ReplicaSet": (("NAME", "DESIRED", "CURRENT", "READY", "AGE"), lambda o, w: [
        o["metadata"]["name"], str(o["spec"].get("replicas", 0)),
        str(o["status"].get("replicas", 0)), str(o["status"].get("readyReplicas", 0)),
        _created(o)], ()),
    "StatefulSet": (("NAME", "READY", "AGE"), lambda o, w: [
        o["metadata"]["name"],
        f"{o['status'].get('readyReplicas', 0)}/{o['spec'].get('replicas', 0)}", _created(o)],
        ()),
    "DaemonSet": (("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
                  lambda o, w: [o["metadata"]["name"]] + [
                      str(o["status"].get(k, 0)) for k in (
                          "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                          "updatedNumberScheduled", "numberAvailable")] + [_created(o)], ()),
    "Service": (("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"), lambda o, w: [
        o["metadata"]["name"], o["spec"].get("type", "ClusterIP"),
        o["spec"].get("clusterIP", "<none>"),
        ",".join(i.get("ip") or i.get("hostname", "") for i in o.get("status", {}).get(
            "loadBalancer", {}).get("ingress", [])) or "<none>", _ports(o), _created(o)],
        ("SELECTOR",)),
    "Node": (("NAME", "STATUS", "ROLES", "AGE", "VERSION"), lambda o, w: [
        o["metadata"]["name"], _node_status(o), _roles(o), _created(o),
        o["status"].get("nodeInfo", {}).get("kubeletVersion", "")] + ([
            next((a["address"] for a in o["status"].get("addresses", [])
                  if a["type"] == "InternalIP"), "<none>"),
            o["status"].get("nodeInfo", {}).get("osImage", "")] if w else []),
        ("INTERNAL-IP", "OS-IMAGE")),
    "Namespace": (("NAME", "STATUS", "AGE"), lambda o, w: [
        o["metadata"]["name"], o.get("status", {}).get("phase", ""), _created(o)], ()),
    "Secret": (("NAME", "TYPE", "DATA", "AGE"), lambda o, w: [
        o["metadata"]["name"], o.get("type", "Opaque"),
        str(len(o.get("data") or {}) + len(o.get("stringData") or {})), _created(o)], ()),
    "ConfigMap": (("NAME", "DATA", "AGE"), lambda o, w: [
        o["metadata"]["name"], str(len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _created(o)], ()),
    "PersistentVolumeClaim": (
        ("NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"),
        lambda o, w: [o["metadata"]["name"], o.get("status", {}).get("phase", ""),
                      o["spec"].get("volumeName", ""),
                      o.get("status", {}).get("capacity", {}).get("storage", ""),
                      ",".join(_short_modes(o.get("status", {}).get("accessModes", []))),
                      o["spec"].get("storageClassName", ""), _created(o)], ()),
    "Job": (("NAME", "STATUS", "COMPLETIONS", "AGE"), lambda o, w: [
        o["metadata"]["name"], _job_status(o),
        f"{o['status'].get('succeeded', 0)}/{o['spec'].get('completions', 1)}", _created(o)],
        ()),
    "CronJob": (("NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"),
                lambda o, w: [o["metadata"]["name"], o["spec"]["schedule"],
                              str(o["spec"].get("suspend", False)),
                              str(len(o.get("status", {}).get("active", []))),
                              age(o.get("status", {}).get("lastScheduleTime")) if o.get(
                                  "status", {}).get("lastScheduleTime") else "<none>",
                              _created(o)], ()),
    "Ingress": (("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"), lambda o, w: [
        o["metadata"]["name"], o["spec"].get("ingressClassName", "<none>"),
        ",".join(r.get("host", "*") for r in o["spec"].get("rules", [])) or "*",
        ",".join(i.get("ip") or i.get("hostname", "") for i in o.get("status", {}).get(
            "loadBalancer", {}).get("ingress", [])), "443" if o["spec"].get("tls") else "80",
        _created(o)], ()),
    "HorizontalPodAutoscaler": (
        ("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"),
        lambda o, w: [o["metadata"]["name"],
                      f"{o['spec']['scaleTargetRef']['kind']}/"
                      f"{o['spec']['scaleTargetRef']['name']}", _hpa_targets(o),
                      str(o["spec"].get("minReplicas", 1)), str(o["spec"]["maxReplicas"]),
                      str(o.get("status", {}).get("currentReplicas", 0)), _created(o)], ()),
}


def _short_modes(modes: Sequence[str]) -> list[str]:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    return [short.get(m, m) for m in modes]


def _job_status(job: Obj) -> str:
    for condition in job.get("status", {}).get("conditions", []):
        if condition["status"] == "True" and condition["type"] in ("Complete", "Failed"):
            return condition["type"]
    return "Running"


def get_table(kind: str, items: Sequence[Obj], *, wide: bool, with_namespace: bool,
              name_prefix: str = "") -> str:
    headers, row, extra = COLUMNS.get(kind, (("NAME", "AGE"), lambda o, w: [
        o["metadata"]["name"], _created(o)], ()))
    all_headers = [*headers, *(extra if wide else ())]
    rows = [row(o, wide) for o in items]
    if name_prefix:  # several kinds in one get: kubectl names rows kind/name
        rows = [[name_prefix + r[0], *r[1:]] for r in rows]
    if with_namespace:
        all_headers = ["NAMESPACE", *all_headers]
        rows = [[o["metadata"].get("namespace", ""), *r] for o, r in zip(items, rows,
                                                                        strict=True)]
    return table(all_headers, rows)


def events_table(events: Sequence[Obj], *, with_namespace: bool) -> str:
    ordered = sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    rows = [[age(e.get("lastTimestamp") or e.get("eventTime")), e.get("type", ""),
             e.get("reason", ""),
             f"{e['involvedObject']['kind'].lower()}/{e['involvedObject']['name']}",
             e.get("message", "").strip()] for e in ordered]
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    if with_namespace:
        headers = ["NAMESPACE", *headers]
        rows = [[e["metadata"].get("namespace", ""), *r] for e, r in zip(ordered, rows,
                                                                          strict=True)]
    return table(headers, rows)


def mask_secret(obj: Obj) -> Obj:
    """A Secret with every value replaced by its size; other objects unchanged."""
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    for key in ("data", "stringData"):
        if obj.get(key):
            masked[key] = {k: f"<{_size(v, key == 'data')} bytes>" for k, v in obj[key].items()}
    return masked


def _size(value: str, encoded: bool) -> int:
    if not encoded:
        return len(value.encode())
    try:
        return len(base64.b64decode(value))
    except ValueError:
        return len(value)


def _clean(obj: Obj) -> Obj:
    obj = mask_secret(obj)
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": metadata}


def serialise(objects: Sequence[Obj], *, fmt: str, single: bool) -> str:
    cleaned = [_clean(o) for o in objects]
    value: Any = cleaned[0] if single and cleaned else {
        "apiVersion": "v1", "kind": "List", "items": cleaned, "metadata": {}}
    if fmt == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip()


def describe(obj: Obj, events: Sequence[Obj]) -> str:
    """A readable summary like `kubectl describe`: metadata, key spec/status, events."""
    obj = mask_secret(obj)
    meta = obj["metadata"]
    lines = [f"Name:         {meta['name']}"]
    if meta.get("namespace"):
        lines.append(f"Namespace:    {meta['namespace']}")
    labels = meta.get("labels") or {}
    lines.append("Labels:       " + ("\n              ".join(f"{k}={v}" for k, v in
                                                               labels.items()) or "<none>"))
    lines.append(f"Created:      {meta.get('creationTimestamp', '')} "
                 f"({age(meta.get('creationTimestamp'))} ago)")
    if obj.get("kind") == "Secret":
        lines += ["Type:         " + obj.get("type", "Opaque"), "", "Data", "===="]
        lines += [f"{k}:  {v.strip('<>')}" for k, v in (obj.get("data") or {}).items()]
    else:
        for section in ("spec", "status"):
            if obj.get(section):
                body = yaml.safe_dump(_trim(obj[section]), sort_keys=False).rstrip()
                lines += ["", f"{section.capitalize()}:", _indent(body)]
    lines += ["", "Events:" + ("  <none>" if not events else "")]
    if events:
        lines.append(_indent(events_table(events, with_namespace=False)))
    return "\n".join(lines)


def _trim(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict):
        return {k: _trim(v, depth + 1) for k, v in value.items() if k != "managedFields"}
    if isinstance(value, list) and len(value) > 20:
        return [*value[:20], f"... {len(value) - 20} more"]
    return value


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
