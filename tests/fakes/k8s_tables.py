"""Server-side Tables, as kube-apiserver's printers build them (pkg/printers/internalversion
in kubernetes/kubernetes, read for the behaviour): the columns kubectl shows for `get`.

Each printer gives its column definitions (name, type, priority: 1 means `-o wide` only)
and one row of cells per object. Kinds without a printer get the server's default table
(Name, Created At); custom resources get their CRD's additionalPrinterColumns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.kube import human_duration
from tests.fakes.k8s_pods import POD_COLUMNS, pod_row
from tests.fakes.k8s_time import NOW, age as _age, parse_time, since

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


# -- workloads ---------------------------------------------------------------------------


def _containers(template: Obj) -> tuple[str, str]:
    containers = template.get("spec", {}).get("containers") or []
    return (",".join(c["name"] for c in containers),
            ",".join(c.get("image", "") for c in containers))


def _selector(selector: Obj | None) -> str:
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for term in selector.get("matchExpressions") or []:
        values = ",".join(term.get("values") or [])
        op = term["operator"]
        parts.append(f"{term['key']} {op.lower()} ({values})" if op in ("In", "NotIn") else
                     (term["key"] if op == "Exists" else f"!{term['key']}"))
    return ",".join(parts) or "<none>"


def deployment_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    names, images = _containers(spec.get("template", {}))
    return [_name(o), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _age(o),
            names, images, _selector(spec.get("selector"))]


def replicaset_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    names, images = _containers(spec.get("template", {}))
    return [_name(o), spec.get("replicas", 0), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age(o), names, images,
            _selector(spec.get("selector"))]


def statefulset_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    names, images = _containers(spec.get("template", {}))
    return [_name(o), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _age(o),
            names, images]


def daemonset_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    names, images = _containers(spec.get("template", {}))
    node_selector = spec.get("template", {}).get("spec", {}).get("nodeSelector") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>"
    return [_name(o), *(status.get(k, 0) for k in (
        "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
        "updatedNumberScheduled", "numberAvailable")), selector, _age(o), names, images,
        _selector(spec.get("selector"))]


def job_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    names, images = _containers(spec.get("template", {}))
    completions = spec.get("completions")
    parallelism = spec.get("parallelism", 1)
    done = f"{status.get('succeeded', 0)}/{completions}" if completions is not None else (
        f"{status.get('succeeded', 0)}/1 of {parallelism}" if parallelism > 1 else
        f"{status.get('succeeded', 0)}/1")
    start, end = status.get("startTime"), status.get("completionTime")
    duration = ""
    if start:
        finish = parse_time(end) if end else NOW()
        duration = human_duration((finish - parse_time(start)).total_seconds())
    return [_name(o), _job_status(o), done, duration, _age(o), names, images,
            _selector(spec.get("selector"))]


def _job_status(job: Obj) -> str:
    conditions = {c["type"]: c for c in job.get("status", {}).get("conditions") or []
                  if c.get("status") == "True"}
    if "Failed" in conditions:
        return "Failed"
    if "Complete" in conditions:
        return "Complete"
    if "FailureTarget" in conditions:
        return "FailureTarget"
    if "SuccessCriteriaMet" in conditions:
        return "SuccessCriteriaMet"
    if job.get("spec", {}).get("suspend"):
        return "Suspended"
    return "Running"


def cronjob_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    names, images = _containers(template)
    last = status.get("lastScheduleTime")
    return [_name(o), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            spec.get("suspend", False), len(status.get("active") or []),
            since(last) if last else "<none>", _age(o), names, images,
            _selector(spec.get("jobTemplate", {}).get("spec", {}).get("selector"))]


# -- services and networking -------------------------------------------------------------


def _service_ports(spec: Obj) -> str:
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p['port']}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _external_ip(o: Obj) -> str:
    spec = o.get("spec", {})
    kind = spec.get("type", "ClusterIP")
    ingress = [i.get("ip") or i.get("hostname") or "" for i in
               (o.get("status", {}).get("loadBalancer", {}).get("ingress") or [])]
    external = spec.get("externalIPs") or []
    if kind == "ExternalName":
        return spec.get("externalName", "<none>")
    if kind == "LoadBalancer":
        addresses = ingress + external
        return ",".join(addresses) if addresses else "<pending>"
    return ",".join(external) if external else "<none>"


def service_row(o: Obj) -> list[Any]:
    spec = o.get("spec", {})
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [_name(o), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            _external_ip(o), _service_ports(spec), _age(o), selector or "<none>"]


def endpoints_row(o: Obj) -> list[Any]:
    shown: list[str] = []
    count = 0
    for subset in o.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                count += 1
                if len(shown) < 3:
                    shown.append(address["ip"] + (f":{port}" if port is not None else ""))
    text = ",".join(shown) or "<none>"
    if count > 3:
        text += f" + {count - 3} more..."
    return [_name(o), text, _age(o)]


def ingress_row(o: Obj) -> list[Any]:
    spec = o.get("spec", {})
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    shown = ",".join(hosts[:4]) + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "")
    addresses = ",".join(i.get("ip") or i.get("hostname") or "" for i in (
        o.get("status", {}).get("loadBalancer", {}).get("ingress") or []))
    return [_name(o), spec.get("ingressClassName") or "<none>", shown or "*", addresses,
            "80, 443" if spec.get("tls") else "80", _age(o)]


# -- cluster -----------------------------------------------------------------------------


def node_row(o: Obj) -> list[Any]:
    status, spec = o.get("status", {}), o.get("spec", {})
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    ready = conditions.get("Ready")
    state = ["Ready" if ready == "True" else "NotReady" if ready == "False" else "Unknown"]
    if spec.get("unschedulable"):
        state.append("SchedulingDisabled")
    labels = o["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
    if "kubernetes.io/role" in labels:
        roles.append(labels["kubernetes.io/role"])
    info = status.get("nodeInfo", {})
    addresses = {a["type"]: a["address"] for a in status.get("addresses") or []}
    return [_name(o), ",".join(state), ",".join(roles) or "<none>", _age(o),
            info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
            addresses.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion",
                                                              "<unknown>")]


def _modes(modes: Sequence[str]) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes)


def pvc_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    bound = status.get("phase") == "Bound"
    return [_name(o), status.get("phase", ""), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", "") if bound else "",
            _modes(status.get("accessModes") or []) if bound else "",
            spec.get("storageClassName") or "<unset>",
            spec.get("volumeAttributesClassName") or "<unset>", _age(o),
            spec.get("volumeMode", "Filesystem")]


def pv_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    claim = spec.get("claimRef")
    return [_name(o), (spec.get("capacity") or {}).get("storage", ""),
            _modes(spec.get("accessModes") or []),
            spec.get("persistentVolumeReclaimPolicy", ""), status.get("phase", ""),
            f"{claim['namespace']}/{claim['name']}" if claim else "",
            spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or
            "<unset>", status.get("reason", ""), _age(o), spec.get("volumeMode", "Filesystem")]


def hpa_row(o: Obj) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    ref = spec.get("scaleTargetRef", {})
    current = {(m.get("resource") or {}).get("name"): m for m in status.get("currentMetrics")
               or []}
    targets = []
    for metric in spec.get("metrics") or []:
        resource = metric.get("resource") or {}
        want = (resource.get("target") or {}).get("averageUtilization")
        have = ((current.get(resource.get("name")) or {}).get("resource") or {}).get(
            "current", {}).get("averageUtilization")
        name = resource.get("name", "")
        targets.append(f"{name}: {have if have is not None else '<unknown>'}%/{want}%")
    shown = ", ".join(targets[:2]) + (f" + {len(targets) - 2} more..." if len(targets) > 2
                                      else "")
    return [_name(o), f"{ref.get('kind')}/{ref.get('name')}", shown or "<none>",
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0), _age(o)]


def event_row(e: Obj) -> list[Any]:
    involved = e.get("involvedObject", {})
    last = e.get("lastTimestamp") or e.get("eventTime") or (e.get("series") or {}).get(
        "lastObservedTime")
    first = e.get("firstTimestamp") or e.get("eventTime")
    count = e.get("count") or (e.get("series") or {}).get("count") or 1
    last_seen = since(last)
    if count > 1 and first:
        last_seen = f"{last_seen} (x{count} over {since(first)})"
    source = e.get("source", {})
    origin = ", ".join(filter(None, (source.get("component"), source.get("host"))))
    return [last_seen, e.get("type", ""), e.get("reason", ""),
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
            involved.get("fieldPath", ""), origin or e.get("reportingComponent", ""),
            (e.get("message") or "").strip(), since(first) if first else "<unknown>",
            count, e["metadata"]["name"]]


EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
    ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
    ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
    ("Name", "string", 1)]


def _simple(*names: str, wide: tuple[str, ...] = ()) -> list[Column]:
    return [(n, "string", 0) for n in names] + [(n, "string", 1) for n in wide]


PRINTERS: dict[str, tuple[list[Column], Callable[[Obj], list[Any]]]] = {
    "Pod": (POD_COLUMNS, pod_row),
    "Deployment": (_simple("Name", "Ready", "Up-to-date", "Available", "Age",
                           wide=("Containers", "Images", "Selector")), deployment_row),
    "ReplicaSet": (_simple("Name", "Desired", "Current", "Ready", "Age",
                           wide=("Containers", "Images", "Selector")), replicaset_row),
    "StatefulSet": (_simple("Name", "Ready", "Age", wide=("Containers", "Images")),
                    statefulset_row),
    "DaemonSet": (_simple("Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                          "Node Selector", "Age", wide=("Containers", "Images", "Selector")),
                  daemonset_row),
    "Job": (_simple("Name", "Status", "Completions", "Duration", "Age",
                    wide=("Containers", "Images", "Selector")), job_row),
    "CronJob": (_simple("Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule",
                        "Age", wide=("Containers", "Images", "Selector")), cronjob_row),
    "Service": (_simple("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age",
                        wide=("Selector",)), service_row),
    "Endpoints": (_simple("Name", "Endpoints", "Age"), endpoints_row),
    "Ingress": (_simple("Name", "Class", "Hosts", "Address", "Ports", "Age"), ingress_row),
    "Node": (_simple("Name", "Status", "Roles", "Age", "Version",
                     wide=("Internal-IP", "External-IP", "OS-Image", "Kernel-Version",
                           "Container-Runtime")), node_row),
    "Namespace": (_simple("Name", "Status", "Age"), lambda o: [
        _name(o), o.get("status", {}).get("phase", ""), _age(o)]),
    "ConfigMap": (_simple("Name", "Data", "Age"), lambda o: [
        _name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)]),
    "Secret": (_simple("Name", "Type", "Data", "Age"), lambda o: [
        _name(o), o.get("type", "Opaque"),
        len(o.get("data") or {}) + len(o.get("stringData") or {}), _age(o)]),
    "ServiceAccount": (_simple("Name", "Secrets", "Age"), lambda o: [
        _name(o), len(o.get("secrets") or []), _age(o)]),
    "PersistentVolumeClaim": (_simple("Name", "Status", "Volume", "Capacity", "Access Modes",
                                      "StorageClass", "VolumeAttributesClass", "Age",
                                      wide=("VolumeMode",)), pvc_row),
    "PersistentVolume": (_simple("Name", "Capacity", "Access Modes", "Reclaim Policy",
                                 "Status", "Claim", "StorageClass", "VolumeAttributesClass",
                                 "Reason", "Age", wide=("VolumeMode",)), pv_row),
    "HorizontalPodAutoscaler": (_simple("Name", "Reference", "Targets", "MinPods", "MaxPods",
                                        "Replicas", "Age"), hpa_row),
    "Event": (EVENT_COLUMNS, event_row),
    "IngressClass": (_simple("Name", "Controller", "Parameters", "Age"), lambda o: [
        _name(o), o.get("spec", {}).get("controller", ""), "<none>", _age(o)]),
    "StorageClass": (_simple("Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                             "AllowVolumeExpansion", "Age"), lambda o: [
        _name(o) + (" (default)" if (o["metadata"].get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class") == "true" else ""),
        o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"),
        o.get("volumeBindingMode", "Immediate"), o.get("allowVolumeExpansion", False),
        _age(o)]),
    "PodDisruptionBudget": (_simple("Name", "Min Available", "Max Unavailable",
                                    "Allowed Disruptions", "Age"), lambda o: [
        _name(o), o.get("spec", {}).get("minAvailable", "N/A"),
        o.get("spec", {}).get("maxUnavailable", "N/A"),
        o.get("status", {}).get("disruptionsAllowed", 0), _age(o)]),
}


def default_row(o: Obj) -> list[Any]:
    return [_name(o), o["metadata"].get("creationTimestamp")]


DEFAULT_COLUMNS: list[Column] = [("Name", "string", 0), ("Created At", "date", 0)]


def table(kind: str, items: Sequence[Obj], printer: tuple[list[Column],
          Callable[[Obj], list[Any]]] | None, include: str) -> Obj:
    columns, row = printer or PRINTERS.get(kind, (DEFAULT_COLUMNS, default_row))
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": "12345"},
            "columnDefinitions": [{"name": name, "type": type_, "format": "name" if
                                   name == "Name" else "", "description": "",
                                   "priority": priority} for name, type_, priority in columns],
            "rows": [{"cells": row(o), "object": _row_object(o, include)} for o in items]}


def _row_object(o: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return o
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": o["metadata"]}
