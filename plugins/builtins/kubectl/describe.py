"""`describe` in kubectl's layout: "Key:<tab>value" lines at indentation levels, aligned by
output.tabwrite as Go's text/tabwriter aligns kubectl's describe output. Pods have kubectl's
describer; other kinds keep the summary in output.py until theirs are written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .output import LAST_APPLIED, describe_events_lines, tabwrite

Obj = dict[str, Any]


class Lines:
    """kubectl's PrefixWriter: each level indents two spaces."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, level: int, *cells: str) -> None:
        self.lines.append("  " * level + "\t".join(cells))

    def multiline(self, level: int, key: str, values: Sequence[str]) -> None:
        if not values:
            self.add(level, f"{key}:", "<none>")
            return
        self.add(level, f"{key}:", values[0])
        for value in values[1:]:
            self.add(level, "", value)


def when(timestamp: str | None) -> str:
    """RFC 1123 with a numeric zone, as kubectl prints times in describe."""
    if not timestamp:
        return "<unknown>"
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime(
        "%a, %d %b %Y %H:%M:%S %z")


def _pairs(mapping: Obj | None, skip: tuple[str, ...] = ()) -> list[str]:
    return [f"{k}={v}" if v != "" else k for k, v in sorted((mapping or {}).items())
            if k not in skip]


def describe_pod(pod: Obj, events: Sequence[Obj]) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    if spec.get("priority") is not None:
        out.add(0, "Priority:", str(spec["priority"]))
    if spec.get("priorityClassName"):
        out.add(0, "Priority Class Name:", spec["priorityClassName"])
    if spec.get("serviceAccountName"):
        out.add(0, "Service Account:", spec["serviceAccountName"])
    node = spec.get("nodeName")
    out.add(0, "Node:", f"{node}/{status.get('hostIP', '')}" if node else "<none>")
    if status.get("startTime"):
        out.add(0, "Start Time:", when(status["startTime"]))
    out.multiline(0, "Labels", _pairs(meta.get("labels")))
    out.multiline(0, "Annotations", [f"{k}: {v}" for k, v in sorted(
        (meta.get("annotations") or {}).items()) if k != LAST_APPLIED])
    if meta.get("deletionTimestamp"):
        out.add(0, "Status:", f"Terminating (lasts {meta['deletionTimestamp']})")
    else:
        out.add(0, "Status:", status.get("phase", ""))
    for key in ("reason", "message"):
        if status.get(key):
            out.add(0, f"{key.capitalize()}:", status[key])
    out.add(0, "IP:", status.get("podIP", ""))
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or []]
    if ips:
        out.add(0, "IPs:")
        for ip in ips:
            out.add(1, "IP:", ip)
    else:
        out.add(0, "IPs:", "<none>")
    controller = next((ref for ref in meta.get("ownerReferences") or []
                       if ref.get("controller")), None)
    if controller:
        out.add(0, "Controlled By:", f"{controller['kind']}/{controller['name']}")
    if status.get("nominatedNodeName"):
        out.add(0, "NominatedNodeName:", status["nominatedNodeName"])
    _containers(out, "Init Containers", spec.get("initContainers") or [],
                status.get("initContainerStatuses") or [])
    _containers(out, "Containers", spec.get("containers") or [],
                status.get("containerStatuses") or [])
    _conditions(out, status.get("conditions") or [])
    _volumes(out, spec.get("volumes") or [])
    out.add(0, "QoS Class:", status.get("qosClass") or _qos(spec))
    out.multiline(0, "Node-Selectors", _pairs(spec.get("nodeSelector")))
    out.multiline(0, "Tolerations", [_toleration(t) for t in spec.get("tolerations") or []])
    out.lines += describe_events_lines(events)
    return tabwrite(out.lines)


def _containers(out: Lines, title: str, containers: Sequence[Obj],
                statuses: Sequence[Obj]) -> None:
    if not containers:
        if title == "Containers":
            out.add(0, f"{title}:", "<none>")
        return
    out.add(0, f"{title}:")
    by_name = {s["name"]: s for s in statuses}
    for container in containers:
        status = by_name.get(container["name"])  # none yet: a pod not scheduled
        out.add(1, f"{container['name']}:")
        if status is not None:
            out.add(2, "Container ID:", status.get("containerID", ""))
        out.add(2, "Image:", container.get("image", ""))
        if status is not None:
            out.add(2, "Image ID:", status.get("imageID", ""))
        _ports(out, container.get("ports") or [])
        for key in ("command", "args"):
            if container.get(key):
                out.add(2, f"{key.capitalize()}:")
                for word in container[key]:
                    out.add(3, word)
        if status is not None:
            _status(out, status)
        resources = container.get("resources") or {}
        for key in ("limits", "requests"):
            if resources.get(key):
                out.add(2, f"{key.capitalize()}:")
                for name, value in sorted(resources[key].items()):
                    out.add(3, f"{name}:", str(value))
        for key in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key):
                out.add(2, f"{key.removesuffix('Probe').capitalize()}:",
                        _probe(container[key]))
        _environment(out, container)
        mounts = container.get("volumeMounts") or []
        if mounts:
            out.add(2, "Mounts:")
            for mount in mounts:
                mode = "ro" if mount.get("readOnly") else "rw"
                out.add(3, f"{mount['mountPath']} from {mount['name']} ({mode})")
        else:
            out.add(2, "Mounts:", "<none>")


def _status(out: Lines, status: Obj) -> None:
    _state(out, "State", status.get("state") or {})
    last = status.get("lastState") or {}
    if last.get("terminated"):
        _state(out, "Last State", last)
    out.add(2, "Ready:", str(bool(status.get("ready"))))
    out.add(2, "Restart Count:", str(status.get("restartCount", 0)))


def _probe(probe: Obj) -> str:
    """kubectl's one-line probe: how, then delay, timeout, period, #success, #failure."""
    if probe.get("httpGet"):
        get = probe["httpGet"]
        how = (f"http-get {get.get('scheme', 'HTTP').lower()}://{get.get('host', '')}:"
               f"{get.get('port', '')}{get.get('path', '')}")
    elif probe.get("tcpSocket"):
        how = f"tcp-socket {probe['tcpSocket'].get('host', '')}:{probe['tcpSocket']['port']}"
    elif probe.get("exec"):
        how = f"exec [{' '.join(probe['exec'].get('command') or [])}]"
    elif probe.get("grpc"):
        how = f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service', '')}"
    else:
        how = "unknown"
    return (f"{how} delay={probe.get('initialDelaySeconds', 0)}s "
            f"timeout={probe.get('timeoutSeconds', 1)}s period={probe.get('periodSeconds', 10)}s "
            f"#success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")


def _ports(out: Lines, ports: Sequence[Obj]) -> None:
    shown = [f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in ports]
    hosts = [f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports]
    label = "Ports:" if len(ports) > 1 else "Port:"
    out.add(2, label, ", ".join(shown) or "<none>")
    out.add(2, "Host " + label, ", ".join(hosts) or "<none>")


def _state(out: Lines, title: str, state: Obj) -> None:
    if state.get("running"):
        out.add(2, f"{title}:", "Running")
        out.add(3, "Started:", when(state["running"].get("startedAt")))
    elif state.get("waiting"):
        out.add(2, f"{title}:", "Waiting")
        if state["waiting"].get("reason"):
            out.add(3, "Reason:", state["waiting"]["reason"])
    elif state.get("terminated"):
        ended = state["terminated"]
        out.add(2, f"{title}:", "Terminated")
        for key, label in (("reason", "Reason"), ("message", "Message")):
            if ended.get(key):
                out.add(3, f"{label}:", str(ended[key]))
        out.add(3, "Exit Code:", str(ended.get("exitCode", 0)))
        if ended.get("signal"):
            out.add(3, "Signal:", str(ended["signal"]))
        out.add(3, "Started:", when(ended.get("startedAt")))
        out.add(3, "Finished:", when(ended.get("finishedAt")))
    else:
        out.add(2, f"{title}:", "Waiting")


def _environment(out: Lines, container: Obj) -> None:
    env = container.get("env") or []
    if not env:
        out.add(2, "Environment:", "<none>")
        return
    out.add(2, "Environment:")
    for variable in env:
        source = variable.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = (f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>  "
                     f"Optional: {str(bool(ref.get('optional'))).lower()}")
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = (f"<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>"
                     f"  Optional: {str(bool(ref.get('optional'))).lower()}")
        elif "fieldRef" in source:
            value = f" ({source['fieldRef'].get('apiVersion', 'v1')}:"\
                    f"{source['fieldRef'].get('fieldPath')})"
        else:
            value = str(variable.get("value", ""))
        out.add(3, f"{variable['name']}:", value)


def _conditions(out: Lines, conditions: Sequence[Obj]) -> None:
    if not conditions:
        return
    out.add(0, "Conditions:")
    out.lines.append("  Type\tStatus")
    for condition in conditions:
        out.lines.append(f"  {condition['type']} \t{condition['status']} ")


def _volumes(out: Lines, volumes: Sequence[Obj]) -> None:
    if not volumes:
        out.add(0, "Volumes:", "<none>")
        return
    out.add(0, "Volumes:")
    for volume in volumes:
        out.add(1, f"{volume['name']}:")
        kind = next((k for k in volume if k != "name"), "")
        out.add(2, "Type:", kind)


def _qos(spec: Obj) -> str:
    """What kubectl computes when the status has no QoS class (k8s.io/kubectl qos)."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        all((r.get("limits") or {}).get(name) and (r.get("requests") or {}).get(
            name, (r.get("limits") or {}).get(name)) == (r.get("limits") or {}).get(name)
            for name in ("cpu", "memory")) for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


def _toleration(t: Obj) -> str:
    text = t.get("key", "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text
