"""The read verbs: each takes a parsed Command and returns kubectl-style text."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot import kube as cluster
from bot.kube import ClusterError, Resource
from bot.kube.names import api_path

from . import describe as describers, explain, extras, logs, output
from .command import Command, Refused
from .describe_parts import Lines, pod_template
from .get import get, list_objects, read_object, targets, where
from .quantity import Quantity

Obj = dict[str, Any]


def check_scope(limits: cluster.NamespaceLimits, namespace: str, *,
                all_namespaces: bool) -> None:
    """A command's namespace within the limits, said before anything is read (the
    requests are held to them again, every one); -A is refused while namespaces are
    restricted, so that a listing never looks complete when it is not."""
    if all_namespaces and limits.restricted:
        raise Refused("Listing across all namespaces (-A) is not allowed here because "
                      "namespaces are restricted; name one with -n.")
    limits.check(namespace)


def describe(api: cluster.Api, command: Command, namespace: str) -> str:
    pieces = []
    for res, names in targets(api, command.args):
        objects = ([read_object(api, res, n, namespace) for n in names] if names
                   else list_objects(api, res, command, namespace))
        for obj in objects[:20]:
            if res.plural == "namespaces":  # its quotas and limits live inside it
                api.limits.check(obj["metadata"]["name"])
            related = _events_of(api, res, obj, namespace)
            pieces.append(describers.describe_object(api, {"kind": res.kind, **obj}, related))
    return "\n\n\n".join(pieces) or (
        f"No resources found in {namespace} namespace." if not command.all_namespaces
        else "No resources found")


def _events_of(api: cluster.Api, res: Resource, obj: Obj, namespace: str) -> list[Obj]:
    """The events about `obj`, asked for as kubectl asks; a node's twice, because the node
    controller records them under its UID and the kubelet under its name."""
    meta = obj["metadata"]
    uids = [meta.get("uid")] + ([meta["name"]] if res.kind == "Node" else [])
    path = api_path("/api/v1", "events", namespace=(
        meta.get("namespace") or namespace) if res.namespaced else None)
    found: dict[str, Obj] = {}
    for uid in uids:
        selector = ",".join(f"involvedObject.{k}={v}" for k, v in (
            ("name", meta["name"]), ("namespace", meta.get("namespace")),
            ("kind", obj.get("kind") or res.kind), ("uid", uid)) if v)
        for event in cluster.request(api, path, query={"fieldSelector": selector},
                                     what=f"listing events for {res.kind.lower()} "
                                     f"{meta['name']}").get("items", []):
            found.setdefault(event["metadata"].get("uid") or event["metadata"]["name"], event)
    return list(found.values())


def events(api: cluster.Api, command: Command, namespace: str) -> str:
    """`kubectl events`: oldest first, `--for kind/name`, `--types Warning,Normal`."""
    path = api_path("/api/v1", "events",
                    namespace=None if command.all_namespaces else namespace)
    selectors = [command.field_selector] if command.field_selector else []
    if command.for_object:
        kind, _, name = command.for_object.partition("/")
        if not name:
            raise Refused("--for needs kind/name, e.g. --for pod/web-1.")
        res = cluster.resource(api, kind)
        selectors.append(f"involvedObject.kind={res.kind},involvedObject.name={name}")
    data = cluster.request(api, path, query={"fieldSelector": ",".join(selectors) or None},
                           what=f"listing events {where(namespace, command.all_namespaces)}")
    types = {t.lower() for t in command.types}
    items = [e for e in data.get("items", [])
             if not types or (e.get("type") or "").lower() in types]
    if not items:
        return f"No events found in {namespace} namespace." if not command.all_namespaces \
            else "No events found."
    return output.events_table(items, with_namespace=command.all_namespaces)


METRICS_API = "/apis/metrics.k8s.io/v1beta1"
TOP_SORTS = ("cpu", "memory")


def top(api: cluster.Api, command: Command, namespace: str) -> str:
    """`top pods|nodes` as kubectl prints it: a name, `-l`, `-A`, `--containers`,
    `--sort-by=cpu|memory` (largest first), and nodes without metrics as <unknown>."""
    if command.sort_by is not None and command.sort_by not in TOP_SORTS:
        raise Refused(f"--sort-by accepts only cpu or memory, not {command.sort_by!r}.")
    nodes = command.args[0] in ("nodes", "node", "no")
    name = command.args[1] if len(command.args) > 1 else None
    scope = None if nodes or command.all_namespaces else namespace
    path = api_path(METRICS_API, "nodes" if nodes else "pods", namespace=scope, name=name)
    try:
        data = cluster.request(api, path, query={"labelSelector": command.selector},
                               what="reading metrics")
    except ClusterError as exc:
        if exc.status == 404 and name is None:
            raise ClusterError("The metrics API is not available in this cluster "
                               "(metrics-server is not installed), so `top` cannot "
                               "work.") from None
        raise
    items = sorted(data.get("items", []) if name is None else [data], key=lambda m: (
        m["metadata"].get("namespace", ""), m["metadata"]["name"]))  # kubectl's default
    if nodes:
        return _top_nodes(api, command, name, items)
    return _top_pods(command, namespace, items)


def _usage(containers: list[Obj]) -> tuple[int, int]:
    return (sum(_millicores(c["usage"]["cpu"]) for c in containers),
            sum(_bytes(c["usage"]["memory"]) for c in containers))


def _by_usage(rows: list[tuple[tuple[int, int], list[str]]], sort_by: str | None
              ) -> list[list[str]]:
    if sort_by is not None:
        rows = sorted(rows, key=lambda row: -row[0][TOP_SORTS.index(sort_by)])
    return [cells for _, cells in rows]


def _top_pods(command: Command, namespace: str, items: list[Obj]) -> str:
    spaces = command.all_namespaces
    rows = []
    for m in items:
        prefix = [m["metadata"].get("namespace", "")] if spaces else []
        parts = [([c["name"]], [c]) for c in m["containers"]] if command.containers \
            else [([], m["containers"])]  # a row per container, or one for the pod
        for names, containers in parts:
            cpu, memory = _usage(containers)
            rows.append(((cpu, memory), [*prefix, m["metadata"]["name"], *names, f"{cpu}m",
                                         f"{memory // MI}Mi"]))
    if not rows:
        return (f"No resources found in {namespace} namespace." if not spaces
                else "No resources found")
    headers = (["NAMESPACE"] if spaces else []) + (["POD", "NAME"] if command.containers
                                                   else ["NAME"]) + ["CPU(cores)",
                                                                     "MEMORY(bytes)"]
    return output.table(headers, _by_usage(rows, command.sort_by))


def _top_nodes(api: cluster.Api, command: Command, name: str | None, items: list[Obj]) -> str:
    listed = cluster.request(api, api_path("/api/v1", "nodes", name=name),
                             query={"labelSelector": command.selector}, what="listing nodes")
    known = listed.get("items", []) if name is None else [listed]
    allocatable = {n["metadata"]["name"]: (n.get("status") or {}).get("allocatable", {})
                   for n in known}
    rows = []
    for m in items:
        if m["metadata"]["name"] not in allocatable:
            continue  # a node the selector left out
        cpu, memory = _millicores(m["usage"]["cpu"]), _bytes(m["usage"]["memory"])
        alloc = allocatable[m["metadata"]["name"]]
        rows.append(((cpu, memory), [m["metadata"]["name"], f"{cpu}m",
                                     _pct(cpu, _millicores(alloc.get("cpu", "0"))),
                                     f"{memory // MI}Mi",
                                     _pct(memory, _bytes(alloc.get("memory", "0")))]))
    measured = {m["metadata"]["name"] for m in items}
    missing = [[n["metadata"]["name"], *["<unknown>"] * 4] for n in known
               if n["metadata"]["name"] not in measured]  # kubectl lists them last
    return output.table(["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"],
                        _by_usage(rows, command.sort_by) + missing)


MI = 2**20
def _millicores(value: str) -> int:
    return Quantity.parse(value).milli()


def _bytes(value: str) -> int:
    return Quantity.parse(value).whole()


def _pct(used: int, total: int) -> str:
    return f"{int(used * 100 / total)}%" if total else "<unknown>"


def rollout(api: cluster.Api, command: Command, namespace: str) -> str:
    action, targets = command.args[0], command.args[1:]
    if not targets:
        raise Refused(f"`rollout {action}` needs a target, e.g. deployment/web.")
    kind, _, name = targets[0].partition("/")
    if not name and len(targets) > 1:
        kind, name = targets[0], targets[1]
    res = cluster.resource(api, kind)
    if res.kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        raise Refused("rollout works on deployments, statefulsets and daemonsets.")
    objects = [read_object(api, res, name, namespace)] if name else list_objects(
        api, res, Command(verb="get"), namespace)  # a kind alone: each of them, as kubectl
    if action == "status":
        return _each(objects, lambda obj: _rollout_status(res.kind.lower(), obj), "\n")
    return _each(objects, lambda obj: _history_block(_rollout_history(
        api, res, obj, namespace, command.revision or 0)), "\n").rstrip("\n")


def _history_block(text: str) -> str:
    """kubectl ends a history table with an empty line, "No rollout history found." not."""
    return text if text.endswith("No rollout history found.") else text + "\n"


def _each(objects: list[Obj], show: Callable[[Obj], str], between: str) -> str:
    """One rollout view per object; kubectl stops at the first that fails, having printed
    the ones before it."""
    shown: list[str] = []
    for obj in objects:
        try:
            shown.append(show(obj))
        except RolloutFailed as exc:
            raise RolloutFailed(between.join([*shown, str(exc)])) from None
    return between.join(shown) if shown else "No resources found"


class RolloutFailed(Refused):
    """What kubectl's `rollout status` ends in with exit 1 (`error: …`)."""


def _rollout_status(kind: str, obj: Obj) -> str:
    """kubectl's status viewers (polymorphichelpers/rollout_status.go), once (--watch=false):
    each field read as Go reads it, zero when absent."""
    viewer = {"deployment": _deployment_status, "daemonset": _daemonset_status,
              "statefulset": _statefulset_status}[kind]
    return viewer(obj["metadata"], obj.get("spec") or {}, obj.get("status") or {})


def _deployment_status(meta: Obj, spec: Obj, status: Obj) -> str:
    name = meta["name"]
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed..."
    progressing = next((c for c in status.get("conditions") or []
                        if c.get("type") == "Progressing"), None)
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        raise RolloutFailed(f'error: deployment "{name}" exceeded its progress deadline')
    desired, updated = spec.get("replicas"), status.get("updatedReplicas", 0)
    if desired is not None and updated < desired:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of '
                f"{desired} new replicas have been updated...")
    if status.get("replicas", 0) > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: '
                f"{status.get('replicas', 0) - updated} old replicas are pending "
                "termination...")
    if status.get("availableReplicas", 0) < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: '
                f"{status.get('availableReplicas', 0)} of {updated} updated replicas are "
                "available...")
    return f'deployment "{name}" successfully rolled out'


def _require_rolling_update(spec: Obj) -> None:
    """kubectl's daemon set and stateful set viewers read only a RollingUpdate."""
    if (spec.get("updateStrategy") or {}).get("type") != "RollingUpdate":
        raise RolloutFailed("error: rollout status is only available for RollingUpdate "
                            "strategy type")


def _daemonset_status(meta: Obj, spec: Obj, status: Obj) -> str:
    name = meta["name"]
    _require_rolling_update(spec)
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for daemon set spec update to be observed..."
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    if updated < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of '
                f"{desired} new pods have been updated...")
    if status.get("numberAvailable", 0) < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: '
                f"{status.get('numberAvailable', 0)} of {desired} updated pods are "
                "available...")
    return f'daemon set "{name}" successfully rolled out'


def _statefulset_status(meta: Obj, spec: Obj, status: Obj) -> str:
    strategy = spec.get("updateStrategy") or {}
    _require_rolling_update(spec)
    observed = status.get("observedGeneration", 0)
    if observed == 0 or meta.get("generation", 0) > observed:
        return "Waiting for statefulset spec update to be observed..."
    desired, ready = spec.get("replicas"), status.get("readyReplicas", 0)
    if desired is not None and ready < desired:
        return f"Waiting for {desired - ready} pods to be ready..."
    updated = status.get("updatedReplicas", 0)
    if strategy.get("rollingUpdate") is not None:
        partition = strategy["rollingUpdate"].get("partition")
        if desired is not None and partition is not None and updated < desired - partition:
            return (f"Waiting for partitioned roll out to finish: {updated} out of "
                    f"{desired - partition} new pods have been updated...")
        return f"partitioned roll out complete: {updated} new pods have been updated..."
    if status.get("updateRevision") != status.get("currentRevision"):
        return (f"waiting for statefulset rolling update to complete {updated} pods at "
                f"revision {status.get('updateRevision')}...")
    return (f"statefulset rolling update complete {status.get('currentReplicas', 0)} pods "
            f"at revision {status.get('currentRevision')}...")


CHANGE_CAUSE = "kubernetes.io/change-cause"


def _rollout_history(api: cluster.Api, res: Resource, obj: Obj, namespace: str,
                     revision: int) -> str:
    """kubectl's history: a Deployment's ReplicaSets, or a StatefulSet's or DaemonSet's
    ControllerRevisions, by revision, with their change causes; with `--revision`, that
    revision's pod template (printed as kubectl prints it: tabs, no alignment)."""
    name = obj["metadata"]["name"]
    deployment = res.kind == "Deployment"
    kept = list_objects(api, cluster.resource(
        api, "replicasets.apps" if deployment else "controllerrevisions.apps"),
        Command(verb="get"), namespace)
    owned = [o for o in kept if any(ref.get("kind") == res.kind and ref.get("name") == name
                                    for ref in o["metadata"].get("ownerReferences") or [])]
    by_number = {(int((o["metadata"].get("annotations") or {}).get(
        "deployment.kubernetes.io/revision", 0)) if deployment else int(o.get("revision", 0))):
        o for o in owned}
    if revision:
        return _revision(res, name, by_number, revision, deployment)
    revisions = sorted((number, (o["metadata"].get("annotations") or {}).get(
        CHANGE_CAUSE, "<none>")) for number, o in by_number.items())
    header = f"{res.name_prefix}/{name} "  # kubectl's own trailing space
    if not revisions:
        return f"{header}\nNo rollout history found."
    width = max(len("REVISION"), *(len(str(rev)) for rev, _ in revisions)) + 2
    lines = [f"{'REVISION'.ljust(width)}CHANGE-CAUSE"] + [
        f"{str(rev).ljust(width)}{cause}" for rev, cause in revisions]
    return header + "\n" + "\n".join(lines)


def _revision(res: Resource, name: str, by_number: dict[int, Obj], revision: int,
              deployment: bool) -> str:
    header = f"{res.name_prefix}/{name} with revision #{revision}"
    if not by_number:
        return f"{header}\nNo rollout history found."
    found = by_number.get(revision)
    if found is None:
        raise RolloutFailed("error: unable to find the specified revision")
    if deployment:  # the ReplicaSet's template, with its change cause among the annotations
        template = copy.deepcopy((found.get("spec") or {}).get("template") or {})
        cause = (found["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
        metadata = template.setdefault("metadata", {})
        if cause:
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       CHANGE_CAUSE: cause}
    else:  # a ControllerRevision keeps the template as a patch of the workload's spec
        template = {k: v for k, v in (((found.get("data") or {}).get("spec") or {}).get(
            "template") or {}).items() if k != "$patch"}
    out = Lines()
    pod_template(out, template)
    return header + "\n" + "\n".join(out.lines)


def api_resources(api: cluster.Api, command: Command, namespace: str) -> str:
    """kubectl's table of what the cluster serves, from the same discovery `get` uses."""
    found = cluster.discovery_of(api).resources()  # cached, as kubectl caches it
    wide = command.output == "wide"
    rows = sorted(([r.plural, ",".join(r.short), r.group_version, str(r.namespaced).lower(),
                    r.kind] + ([",".join(r.verbs), ",".join(r.categories)] if wide else [])
                   for r in found), key=lambda row: (row[2].rpartition("/")[0], row[0]))
    return output.table(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"] + (
        ["VERBS", "CATEGORIES"] if wide else []), rows)


VERBS = {"get": get, "describe": describe, "logs": logs.logs, "events": events, "top": top,
         "rollout": rollout, "api-resources": api_resources, "auth": extras.auth,
         "version": extras.version, "explain": explain.explain,
         "api-versions": extras.api_versions, "cluster-info": extras.cluster_info}
