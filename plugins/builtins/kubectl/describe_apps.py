"""kubectl's describers for workloads: deployments (with their old and new ReplicaSets),
replica sets, stateful sets and daemon sets (with their pods' phases), jobs, cron jobs and
horizontal pod autoscalers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.kube.names import api_path

from .describe_parts import (
    Lines,
    annotations,
    conditions,
    controller,
    header,
    labels,
    pod_template,
    selector,
    when,
)
from .describe_storage import storage_class
from .output import describe_events_lines, human_between

if TYPE_CHECKING:
    from .describe import Describer, Lookup

Obj = dict[str, Any]
HASH = "pod-template-hash"


def _bool(value: object) -> str:
    return "<unset>" if value is None else ("True" if value else "False")


def _pods_status(lookup: Lookup, obj: Obj) -> str:
    """getPodStatusForController: phases of the pods this object controls."""
    meta = obj["metadata"]
    pods = lookup.items(api_path("/api/v1", "pods", namespace=meta.get("namespace")),
                        "listing pods",
                        labelSelector=selector(obj.get("spec", {}).get("selector")))
    if pods is None:
        return "error in fetching pods"
    phases = [p.get("status", {}).get("phase") for p in pods if any(
        ref.get("controller") and ref.get("uid") == meta.get("uid")
        for ref in p["metadata"].get("ownerReferences") or [])]
    return " / ".join(f"{phases.count(phase)} {label}" for phase, label in (
        ("Running", "Running"), ("Pending", "Waiting"), ("Succeeded", "Succeeded"),
        ("Failed", "Failed")))


def describe_deployment(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    header(out, meta, created=("CreationTimestamp:", when(meta.get("creationTimestamp"))))
    out.add(0, "Selector:", selector(spec.get("selector")))
    out.add(0, "Replicas:", f"{spec.get('replicas', 0)} desired | "
            f"{status.get('updatedReplicas', 0)} updated | {status.get('replicas', 0)} total | "
            f"{status.get('availableReplicas', 0)} available | "
            f"{status.get('unavailableReplicas', 0)} unavailable")
    strategy = spec.get("strategy") or {}
    out.add(0, "StrategyType:", strategy.get("type", ""))
    out.add(0, "MinReadySeconds:", str(spec.get("minReadySeconds", 0)))
    if strategy.get("rollingUpdate") is not None:
        rolling = strategy["rollingUpdate"]
        out.add(0, "RollingUpdateStrategy:", f"{rolling.get('maxUnavailable', '<nil>')} max "
                f"unavailable, {rolling.get('maxSurge', '<nil>')} max surge")
    pod_template(out, spec.get("template"))
    conditions(out, status.get("conditions") or [], with_reason=True)
    found = lookup.items(api_path("/apis/apps/v1", "replicasets",
                                  namespace=meta.get("namespace")),
                         "listing replica sets", labelSelector=selector(spec.get("selector")))
    if found is not None:
        old, new = _replica_sets(obj, found)
        if old or new:
            out.add(0, "OldReplicaSets:", _replica_set_list(old))
            out.add(0, "NewReplicaSet:", _replica_set_list(new))
    return out.lines + describe_events_lines(events)


def _replica_sets(deployment: Obj, found: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """The deployment's ReplicaSets, oldest first: the new one has its pod template."""
    uid = deployment["metadata"].get("uid")
    owned = sorted((rs for rs in found if any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in rs["metadata"].get("ownerReferences") or [])),
        key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]))
    template = _template_key(deployment.get("spec", {}).get("template"))
    new = next((rs for rs in owned
                if _template_key(rs.get("spec", {}).get("template")) == template), None)
    return [rs for rs in owned if rs is not new], [new] if new else []


def _template_key(template: Any) -> Any:
    """A pod template without its pod-template-hash label and empty fields (Go's semantic
    equality treats empty and absent alike)."""
    if isinstance(template, dict):
        pruned = {k: _template_key(v) for k, v in template.items() if k != HASH}
        return {k: v for k, v in pruned.items() if v not in ({}, [], None, "")}
    if isinstance(template, list):
        return [_template_key(v) for v in template]
    return template


def _replica_set_list(sets: Sequence[Obj]) -> str:
    return ", ".join(f"{rs['metadata']['name']} ({rs.get('status', {}).get('replicas', 0)}/"
                     f"{rs.get('spec', {}).get('replicas', 0)} replicas created)"
                     for rs in sets) or "<none>"


def describe_replicaset(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    out.add(0, "Selector:", selector(spec.get("selector"), none="<none>"))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    if controller(meta):
        out.add(0, "Controlled By:", controller(meta))
    out.add(0, "Replicas:", f"{status.get('replicas', 0)} current / "
            f"{spec.get('replicas', 0)} desired")
    out.add(0, "Pods Status:", _pods_status(lookup, obj))
    pod_template(out, spec.get("template"))
    conditions(out, status.get("conditions") or [], with_reason=True)
    return out.lines + describe_events_lines(events)


def describe_statefulset(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    out.add(0, "CreationTimestamp:", when(meta.get("creationTimestamp")))
    out.add(0, "Selector:", selector(spec.get("selector")))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    if spec.get("podManagementPolicy"):  # kubectl 1.30 and 1.32 show no Service Name
        out.add(0, "Pod Management Policy:", spec["podManagementPolicy"])
    out.add(0, "Replicas:", f"{spec.get('replicas', 0)} desired | "
            f"{status.get('replicas', 0)} total")
    strategy = spec.get("updateStrategy") or {}
    out.add(0, "Update Strategy:", strategy.get("type", ""))
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("partition") is not None:
        out.add(1, "Partition:", str(rolling["partition"]))
        if rolling.get("maxUnavailable") is not None:
            out.add(1, "MaxUnavailable:", str(rolling["maxUnavailable"]))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        out.add(0, "Persistent Volume Claim Retention Policy:")
        out.add(1, "WhenDeleted:", retention.get("whenDeleted", ""))
        out.add(1, "WhenScaled:", retention.get("whenScaled", ""))
    out.add(0, "Pods Status:", _pods_status(lookup, obj))
    pod_template(out, spec.get("template"))
    _claim_templates(out, spec.get("volumeClaimTemplates") or [])
    return out.lines + describe_events_lines(events)


def _claim_templates(out: Lines, templates: Sequence[Obj]) -> None:
    if not templates:
        out.lines.append("Volume Claims:\t<none>")
        return
    out.lines.append("Volume Claims:")
    for claim in templates:
        meta, spec = claim.get("metadata", {}), claim.get("spec", {})
        out.add(1, "Name:", meta.get("name", ""))
        out.add(1, "StorageClass:", storage_class(claim))
        for title, key in (("  Labels", "labels"), ("  Annotations", "annotations")):
            values = labels(meta.get(key))
            out.lines.append(f"{title}:\t{values[0] if values else '<none>'}")
            out.lines += [f"  \t{value}" for value in values[1:]]
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        out.add(1, "Capacity:", str(storage) if storage is not None else "<default>")
        out.add(1, "Access Modes:", f"[{' '.join(spec.get('accessModes') or [])}]")


def describe_daemonset(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])  # kubectl 1.30 and 1.32 show no Namespace here
    out.add(0, "Selector:", selector(spec.get("selector")))
    node_selector = (spec.get("template") or {}).get("spec", {}).get("nodeSelector")
    out.add(0, "Node-Selector:", ",".join(labels(node_selector)) or "<none>")
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    for label, key in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                       ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                       ("Number of Nodes Scheduled with Up-to-date Pods",
                        "updatedNumberScheduled"),
                       ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                       ("Number of Nodes Misscheduled", "numberMisscheduled")):
        out.lines.append(f"{label}: {status.get(key, 0)}")
    out.add(0, "Pods Status:", _pods_status(lookup, obj))
    pod_template(out, spec.get("template"))
    return out.lines + describe_events_lines(events)


def describe_job(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    out.add(0, "Name:", meta["name"])
    out.add(0, "Namespace:", meta.get("namespace", ""))
    out.add(0, "Selector:", selector(spec.get("selector")))
    out.multiline("Labels", labels(meta.get("labels")))
    annotations(out, "Annotations", meta.get("annotations"))
    if controller(meta):
        out.add(0, "Controlled By:", controller(meta))
    if spec.get("parallelism") is not None:
        out.add(0, "Parallelism:", str(spec["parallelism"]))
    out.add(0, "Completions:", str(spec.get("completions", "<unset>")))
    for key, label in (("completionMode", "Completion Mode"), ("suspend", "Suspend"),
                       ("backoffLimit", "Backoff Limit"),
                       ("ttlSecondsAfterFinished", "TTL Seconds After Finished")):
        if spec.get(key) is not None:
            value = spec[key]
            out.add(0, f"{label}:", str(value).lower() if isinstance(value, bool) else str(value))
    _job_times(out, spec, status)
    ready = status.get("ready")
    active = f"{status.get('active', 0)} Active" + (f" ({ready} Ready)" if ready is not None
                                                      else "")
    out.add(0, "Pods Statuses:", f"{active} / {status.get('succeeded', 0)} Succeeded / "
            f"{status.get('failed', 0)} Failed")
    if spec.get("completionMode") == "Indexed":
        out.add(0, "Completed Indexes:", _indexes(status.get("completedIndexes", "")))
    pod_template(out, spec.get("template"))
    return out.lines + describe_events_lines(events)


def _job_times(out: Lines, spec: Obj, status: Obj) -> None:
    start, end = status.get("startTime"), status.get("completionTime")
    if start:
        out.add(0, "Start Time:", when(start))
    if end:
        out.add(0, "Completed At:", when(end))
    if start and end:
        out.add(0, "Duration:", human_between(start, end))
    if spec.get("activeDeadlineSeconds") is not None:
        out.add(0, "Active Deadline Seconds:", f"{spec['activeDeadlineSeconds']}s")


def _indexes(indexes: str, soft_limit: int = 50) -> str:
    if not indexes:
        return "<none>"
    cut = indexes.find(",", soft_limit)
    return indexes if cut == -1 else indexes[:cut + 1] + "..."


def describe_cronjob(obj: Obj, events: Sequence[Obj], lookup: Lookup) -> list[str]:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    out = Lines()
    header(out, meta)
    out.add(0, "Schedule:", spec.get("schedule", ""))
    out.add(0, "Concurrency Policy:", spec.get("concurrencyPolicy", ""))
    out.add(0, "Suspend:", _bool(spec.get("suspend")))
    for key, label in (("successfulJobsHistoryLimit", "Successful Job History Limit"),
                       ("failedJobsHistoryLimit", "Failed Job History Limit")):
        out.add(0, f"{label}:", str(spec.get(key, "<unset>")))
    deadline = spec.get("startingDeadlineSeconds")
    out.add(0, "Starting Deadline Seconds:", f"{deadline}s" if deadline is not None
            else "<unset>")
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    out.add(0, "Selector:", selector(job["selector"]) if job.get("selector") else "<unset>")
    for key, label in (("parallelism", "Parallelism"), ("completions", "Completions")):
        out.add(0, f"{label}:", str(job.get(key, "<unset>")))
    if job.get("activeDeadlineSeconds") is not None:
        out.add(0, "Active Deadline Seconds:", f"{job['activeDeadlineSeconds']}s")
    pod_template(out, job.get("template"))
    last = status.get("lastScheduleTime")
    out.add(0, "Last Schedule Time:", when(last) if last else "<unset>")
    out.add(0, "Active Jobs:", ", ".join(j.get("name", "") for j in status.get("active") or [])
            or "<none>")
    return out.lines + describe_events_lines(events)


DESCRIBERS: dict[str, Describer] = {
    "Deployment": describe_deployment, "ReplicaSet": describe_replicaset,
    "StatefulSet": describe_statefulset, "DaemonSet": describe_daemonset,
    "Job": describe_job, "CronJob": describe_cronjob}
