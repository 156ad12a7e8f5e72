"""The pieces kubectl's describers share (k8s.io/kubectl/pkg/describe): its prefix writer,
labels, annotations, selectors, times, containers, volumes. Lines are tab-separated cells,
aligned at the end by output.tabwrite as Go's tabwriter aligns them. Objects are read as the
API server stored them: a field that is absent prints as Go's zero value, as kubectl's typed
decoding has it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.kube.masking import LAST_APPLIED

from .output import age

Obj = dict[str, Any]
MAX_ANNOTATION = 140  # kubectl's maxAnnotationLen


class Lines:
    """kubectl's PrefixWriter: each level indents two spaces."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, level: int, *cells: str) -> None:
        self.lines.append("  " * level + "\t".join(cells))

    def multiline(self, title: str, values: Sequence[str]) -> None:
        """`Title:<tab>first`, then each further value under it (printLabelsMultiline)."""
        if not values:
            self.lines.append(f"{title}:\t<none>")
            return
        self.lines.append(f"{title}:\t{values[0]}")
        self.lines += [f"\t{value}" for value in values[1:]]


def when(timestamp: str | None) -> str:
    """RFC 1123 with a numeric zone, as kubectl prints times in describe; Go's zero time for
    none."""
    if not timestamp:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime(
        "%a, %d %b %Y %H:%M:%S %z")


def terminating(meta: Obj) -> str:
    """The status of an object being deleted: how long its deletion has lasted."""
    return f"Terminating (lasts {age(meta['deletionTimestamp'])})"


def labels(mapping: Obj | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((mapping or {}).items())]


def annotations(out: Lines, title: str, mapping: Obj | None) -> None:
    """printAnnotationsMultiline: sorted, last-applied skipped, long or multi-line values
    on their own lines, cut at 140 characters."""
    keys = sorted(k for k in (mapping or {}) if k != LAST_APPLIED)
    if not keys:
        out.lines.append(f"{title}:\t<none>")
        return
    for i, key in enumerate(keys):
        lead = f"{title}:\t" if i == 0 else "\t"
        value = str(mapping[key]).removesuffix("\n")  # type: ignore[index]
        if len(value) + len(key) + 2 > MAX_ANNOTATION or "\n" in value:
            out.lines.append(f"{lead}{key}:")
            out.lines += [f"\t  {_shorten(part)}" for part in value.split("\n")]
        else:
            out.lines.append(f"{lead}{key}: {value}")


def _shorten(text: str) -> str:
    limit = MAX_ANNOTATION - 2
    return text[:limit] + "..." if len(text) > limit else text


def header(out: Lines, meta: Obj, *, namespaced: bool = True,
           created: tuple[str, str] | None = None) -> None:
    """Name, Namespace, Labels, Annotations: how most describers begin; `created` is the
    (title, time) line some put after the namespace (`CreationTimestamp:`, `Created on:`)."""
    out.add(0, "Name:", meta.get("name", ""))
    if namespaced:
        out.add(0, "Namespace:", meta.get("namespace", ""))
    if created is not None:
        out.add(0, *created)
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))


def controller(meta: Obj) -> str:
    ref = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
    return f"{ref['kind']}/{ref['name']}" if ref else ""


def selector(spec: Obj | None, *, none: str = "") -> str:
    """A LabelSelector as labels.Selector prints it: requirements sorted by key."""
    if not spec:
        return none
    terms = [(k, f"{k}={v}") for k, v in (spec.get("matchLabels") or {}).items()]
    for expr in spec.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], sorted(expr.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})",
                "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)
        terms.append((key, text))
    return ",".join(text for _, text in sorted(terms)) or none


def pod_template(out: Lines, template: Obj | None) -> None:
    """DescribePodTemplate: a workload's pod template, one level in."""
    out.add(0, "Pod Template:")
    template = template or {}
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    out.multiline("  Labels", labels(meta.get("labels")))
    if meta.get("annotations"):
        annotations(out, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        out.add(1, "Service Account:", spec["serviceAccountName"])
    if spec.get("initContainers"):
        containers(out, "Init Containers", spec["initContainers"], None, space="  ")
    containers(out, "Containers", spec.get("containers") or [], None, space="  ")
    volumes(out, spec.get("volumes") or [], space="  ")
    if spec.get("priorityClassName"):
        out.add(1, "Priority Class Name:", spec["priorityClassName"])
    out.multiline("  Node-Selectors", labels(spec.get("nodeSelector")))
    out.multiline("  Tolerations", tolerations(spec.get("tolerations") or []))


def containers(out: Lines, title: str, specs: Sequence[Obj], statuses: Sequence[Obj] | None,
               *, space: str = "", pod: Obj | None = None) -> None:
    """describeContainers; `statuses` None for a template (no state, no IDs)."""
    out.lines.append(f"{space}{title}:" + ("" if specs else " <none>"))
    by_name = {s["name"]: s for s in statuses or []}
    for container in specs:
        status = by_name.get(container["name"])
        out.add(1, f"{' ' if space else ''}{container['name']}:")
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
        resources(out, container.get("resources") or {}, level=2)
        for key in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key):
                out.add(2, f"{key.removesuffix('Probe').capitalize()}:",
                        probe(container[key]))
        _env_from(out, container.get("envFrom") or [])
        _environment(out, container.get("env") or [], pod)
        _mounts(out, container.get("volumeMounts") or [])


def resources(out: Lines, spec: Obj, *, level: int) -> None:
    for key in ("limits", "requests"):
        if spec.get(key):
            out.add(level, f"{key.capitalize()}:")
            for name, value in sorted(spec[key].items()):
                out.add(level + 1, f"{name}:", str(value))


def _ports(out: Lines, ports: Sequence[Obj]) -> None:
    shown = ", ".join(f"{p['containerPort']}/{p.get('protocol', '')}" for p in ports)
    hosts = ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', '')}" for p in ports)
    out.add(2, "Ports:" if "," in shown else "Port:", shown or "<none>")
    out.add(2, "Host Ports:" if "," in hosts else "Host Port:", hosts or "<none>")


def _status(out: Lines, status: Obj) -> None:
    _state(out, "State", status.get("state") or {})
    last = status.get("lastState") or {}
    if last.get("terminated"):
        _state(out, "Last State", last)
    out.add(2, "Ready:", str(bool(status.get("ready"))))
    out.add(2, "Restart Count:", str(status.get("restartCount", 0)))


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


def probe(spec: Obj) -> str:
    """DescribeProbe: how, then delay, timeout, period, #success, #failure."""
    attrs = (f"delay={spec.get('initialDelaySeconds', 0)}s "
             f"timeout={spec.get('timeoutSeconds', 0)}s period={spec.get('periodSeconds', 0)}s"
             f" #success={spec.get('successThreshold', 0)} "
             f"#failure={spec.get('failureThreshold', 0)}")
    if spec.get("exec"):
        return f"exec [{' '.join(spec['exec'].get('command') or [])}] {attrs}"
    if spec.get("httpGet"):
        get = spec["httpGet"]
        port = str(get.get("port", ""))
        host = f"{get.get('host', '')}:{port}" if port else get.get("host", "")
        return (f"http-get {get.get('scheme', '').lower()}://{host}{get.get('path', '')} "
                f"{attrs}")
    if spec.get("tcpSocket"):
        socket = spec["tcpSocket"]
        return f"tcp-socket {socket.get('host', '')}:{socket.get('port', '')} {attrs}"
    if spec.get("grpc"):
        return f"grpc <pod>:{spec['grpc'].get('port')} {spec['grpc'].get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _env_from(out: Lines, sources: Sequence[Obj]) -> None:
    if not sources:
        return
    out.add(2, "Environment Variables from:")
    for source in sources:
        kind, ref = (("ConfigMap", source["configMapRef"]) if source.get("configMapRef")
                     else ("Secret", source.get("secretRef") or {}))
        if source.get("prefix"):
            kind += f" with prefix '{source['prefix']}'"
        out.add(3, ref.get("name", ""), kind, f"Optional: {_flag(ref.get('optional'))}")


def _flag(value: object) -> str:
    return "true" if value else "false"


# kubectl resolves a fieldRef only where client-go converts the field label: the defaults.
POD_FIELDS: dict[str, Callable[[Obj], str]] = {
    "metadata.name": lambda p: p["metadata"].get("name", ""),
    "metadata.namespace": lambda p: p["metadata"].get("namespace", ""),
}


def _environment(out: Lines, env: Sequence[Obj], pod: Obj | None) -> None:
    if not env:
        out.add(2, "Environment:", "<none>")
        return
    out.add(2, "Environment:")
    for variable in env:
        source = variable.get("valueFrom")
        if not source:
            first, *rest = str(variable.get("value", "")).split("\n")
            out.add(3, f"{variable['name']}:", first)
            out.lines += ["      \t" + line for line in rest]
        elif "fieldRef" in source:
            ref = source["fieldRef"]
            path = ref.get("fieldPath", "")
            value = POD_FIELDS.get(path, lambda _: "")(pod) if pod else ""
            out.add(3, f"{variable['name']}:", f"{value} ({ref.get('apiVersion', '')}:{path})")
        elif "resourceFieldRef" in source:
            out.add(3, f"{variable['name']}:", f" ({source['resourceFieldRef'].get('resource')})")
        else:
            is_secret = "secretKeyRef" in source
            ref = source.get("secretKeyRef") or source.get("configMapKeyRef") or {}
            where = (f"in secret '{ref.get('name', '')}'" if is_secret
                     else f"of config map '{ref.get('name', '')}'")
            out.add(3, f"{variable['name']}:", f"<set to the key '{ref.get('key', '')}' {where}>",
                    f"Optional: {_flag(ref.get('optional'))}")


def _mounts(out: Lines, mounts: Sequence[Obj]) -> None:
    if not mounts:
        out.add(2, "Mounts:", "<none>")
        return
    out.add(2, "Mounts:")
    for mount in sorted(mounts, key=lambda m: m.get("mountPath", "")):
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        out.add(3, f"{mount['mountPath']} from {mount['name']} ({','.join(flags)})")


VolumeType = tuple[str, tuple[tuple[str, str], ...]]  # title, (label, field) pairs
VOLUME_TYPES: dict[str, VolumeType] = {
    "hostPath": ("HostPath (bare host directory volume)", (("Path", "path"),
                                                           ("HostPathType", "type"))),
    "emptyDir": ("EmptyDir (a temporary directory that shares a pod's lifetime)",
                 (("Medium", "medium"), ("SizeLimit", "sizeLimit"))),
    "secret": ("Secret (a volume populated by a Secret)", (("SecretName", "secretName"),
                                                          ("Optional", "optional"))),
    "configMap": ("ConfigMap (a volume populated by a ConfigMap)", (("Name", "name"),
                                                                   ("Optional", "optional"))),
    "persistentVolumeClaim": (
        "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
        (("ClaimName", "claimName"), ("ReadOnly", "readOnly"))),
    "nfs": ("NFS (an NFS mount that lasts the lifetime of a pod)",
            (("Server", "server"), ("Path", "path"), ("ReadOnly", "readOnly"))),
}
VOLUME_DEFAULTS = {"type": "<none>", "sizeLimit": "<unset>", "optional": "false",
                   "readOnly": "false"}


def volumes(out: Lines, specs: Sequence[Obj], *, space: str = "") -> None:
    if not specs:
        out.lines.append(f"{space}Volumes:\t<none>")
        return
    out.lines.append(f"{space}Volumes:")
    for volume in specs:
        out.add(1, f"{' ' if space else ''}{volume['name']}:")
        kind = next((k for k in volume if k != "name"), "")
        source = volume.get(kind) or {}
        if kind == "projected":
            _projected(out, source)
            continue
        volume_source(out, VOLUME_TYPES, kind, source)


def volume_source(out: Lines, types: dict[str, VolumeType], kind: str, source: Obj) -> None:
    """A volume source's Type line and its fields, as a pod's or a PV's describer prints
    them; a kind with no known fields prints its name alone."""
    title, fields = types.get(kind, (f"{kind[:1].upper()}{kind[1:]}", ()))
    out.add(2, "Type:", title)
    for label, key in fields:
        out.add(2, f"{label}:", go_value(source.get(key, VOLUME_DEFAULTS.get(key, ""))))


def _projected(out: Lines, source: Obj) -> None:
    out.add(2, "Type:", "Projected (a volume that contains injected data from multiple sources)")
    for part in source.get("sources") or []:
        if "serviceAccountToken" in part:
            out.add(2, "TokenExpirationSeconds:",
                    str(part["serviceAccountToken"].get("expirationSeconds", 0)))
        elif "configMap" in part:
            out.add(2, "ConfigMapName:", part["configMap"].get("name", ""))
            out.add(2, "ConfigMapOptional:", go_value(part["configMap"].get("optional", "<nil>")))
        elif "secret" in part:
            out.add(2, "SecretName:", part["secret"].get("name", ""))
            out.add(2, "SecretOptionalName:", go_value(part["secret"].get("optional", "<nil>")))
        elif "downwardAPI" in part:
            out.add(2, "DownwardAPI:", "true")


def go_value(value: object) -> str:
    """A value as Go's %v prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def toleration(t: Obj) -> str:
    text = t.get("key", "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text


def tolerations(items: Sequence[Obj]) -> list[str]:
    return [toleration(t) for t in sorted(items, key=lambda t: t.get("key", ""))]


def taint(t: Obj) -> str:
    """Taint.ToString: key[=value]:effect."""
    value = f"={t['value']}" if t.get("value") else ""
    return f"{t.get('key', '')}{value}:{t.get('effect', '')}"


def conditions(out: Lines, items: Sequence[Obj], *, with_reason: bool) -> None:
    """A workload's Conditions table (Type, Status[, Reason])."""
    if not items:
        return
    if with_reason:
        out.lines += ["Conditions:", "  Type\tStatus\tReason", "  ----\t------\t------"]
        out.lines += [f"  {c['type']} \t{c['status']}\t{c.get('reason', '')}" for c in items]
    else:
        out.lines += ["Conditions:", "  Type\tStatus"]
        out.lines += [f"  {c['type']} \t{c['status']} " for c in items]
