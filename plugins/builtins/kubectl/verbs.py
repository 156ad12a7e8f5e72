"""The read verbs: each takes a parsed Command and returns kubectl-style text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client

from bot import kube as cluster
from bot.kube import ClusterError, Resource

from . import logs, output, tables
from .command import Command, Refused

Obj = dict[str, Any]


class Policy:
    """Namespace allow and deny lists from the plugin's config."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.allow = set(config.get("namespace_allow") or [])
        self.deny = set(config.get("namespace_deny") or [])
        self.default_namespace = config.get("default_namespace") or "default"

    def check(self, namespace: str | None, *, all_namespaces: bool) -> None:
        if all_namespaces and (self.allow or self.deny):
            raise Refused("Listing across all namespaces (-A) is not allowed here because "
                          "namespaces are restricted; name one with -n.")
        if namespace is None:
            return
        if namespace in self.deny or (self.allow and namespace not in self.allow):
            raise Refused(f"The namespace {namespace!r} is off limits for this bot.")


def _where(namespace: str | None, all_namespaces: bool) -> str:
    return "in all namespaces" if all_namespaces else f"in namespace {namespace}"


def _list(api: client.ApiClient, res: Resource, command: Command, namespace: str) -> list[Obj]:
    path = (f"{res.path_prefix}/namespaces/{namespace}/{res.plural}"
            if res.namespaced and not command.all_namespaces else
            f"{res.path_prefix}/{res.plural}")
    what = f"listing {res.plural}" + (f" {_where(namespace, command.all_namespaces)}"
                                      if res.namespaced else "")
    data = cluster.request(api, path, query={"labelSelector": command.selector,
                                             "fieldSelector": command.field_selector},
                           what=what)
    items = data.get("items", [])
    for item in items:
        item.setdefault("kind", res.kind)
    return items


def _read(api: client.ApiClient, res: Resource, name: str, namespace: str) -> Obj:
    path = (f"{res.path_prefix}/namespaces/{namespace}/{res.plural}/{name}" if res.namespaced
            else f"{res.path_prefix}/{res.plural}/{name}")
    what = f"getting {res.kind.lower()} {name}" + (f" in namespace {namespace}"
                                                   if res.namespaced else "")
    obj = cluster.request(api, path, what=what)
    obj.setdefault("kind", res.kind)
    return obj


def _targets(api: client.ApiClient, args: Sequence[str]) -> list[tuple[Resource, list[str]]]:
    """`pods`, `po,svc`, `all`, `pod web-1 web-2`, `pod/web-1 deploy/web` → resources and
    names, resolved by the cluster's discovery (CRDs included)."""
    if all("/" in a for a in args):
        grouped: dict[str, tuple[Resource, list[str]]] = {}
        for arg in args:
            kind, name = arg.split("/", 1)
            res = cluster.resource(api, kind)
            grouped.setdefault(f"{res.plural}.{res.group}", (res, []))[1].append(name)
        return list(grouped.values())
    kinds, names = args[0], list(args[1:])
    resources = [r for k in kinds.split(",") if k for r in cluster.resolve(api, k)]
    if names and len(resources) > 1:
        raise Refused("Name objects of several kinds as kind/name, e.g. `pod/a deploy/b`.")
    return [(res, names) for res in resources]


def _table(api: client.ApiClient, res: Resource, command: Command, namespace: str,
           names: list[str]) -> Obj:
    """The server's Table for the objects (one request per named object)."""
    query = {"labelSelector": command.selector, "fieldSelector": command.field_selector}
    if not names:
        path = (f"{res.path_prefix}/namespaces/{namespace}/{res.plural}"
                if res.namespaced and not command.all_namespaces else
                f"{res.path_prefix}/{res.plural}")
        return cluster.request(api, path, query=query, accept=cluster.TABLE,
                               what=f"listing {res.plural}" + (
                                   f" {_where(namespace, command.all_namespaces)}"
                                   if res.namespaced else ""))
    tables = [cluster.request(api, _object_path(res, name, namespace), accept=cluster.TABLE,
                              what=_getting(res, name, namespace)) for name in names]
    first = dict(tables[0])
    first["rows"] = [row for t in tables for row in t.get("rows") or []]
    return first


def _object_path(res: Resource, name: str, namespace: str) -> str:
    return (f"{res.path_prefix}/namespaces/{namespace}/{res.plural}/{name}" if res.namespaced
            else f"{res.path_prefix}/{res.plural}/{name}")


def _getting(res: Resource, name: str, namespace: str) -> str:
    return f"getting {res.kind.lower()} {name}" + (f" in namespace {namespace}"
                                                   if res.namespaced else "")


def get(api: client.ApiClient, command: Command, namespace: str) -> str:
    targets = _targets(api, command.args)
    if command.output in ("yaml", "json"):
        collected = [o for res, names in targets for o in (
            [_read(api, res, n, namespace) for n in names] if names
            else _list(api, res, command, namespace))]
        single = len(collected) == 1 and any(names for _, names in targets)
        return output.serialise(collected, fmt=command.output, single=single)
    several = len(targets) > 1
    blocks: list[str] = []
    for res, names in targets:
        if command.output == "name":
            objects = ([_read(api, res, n, namespace) for n in names] if names
                       else _list(api, res, command, namespace))
            blocks += [f"{res.name_prefix}/{o['metadata']['name']}" for o in objects]
            continue
        table = _table(api, res, command, namespace, names)
        if table.get("rows"):
            blocks.append(tables.render(
                table, res, wide=command.output == "wide", name_prefix=several,
                with_namespace=command.all_namespaces and res.namespaced,
                show_labels=command.show_labels, label_columns=command.label_columns,
                no_headers=command.no_headers))
    if command.output == "name":
        return "\n".join(blocks)
    if not blocks:
        return (f"No resources found in {namespace} namespace." if any(
            r.namespaced for r, _ in targets) and not command.all_namespaces
            else "No resources found")
    return "\n\n".join(blocks)


def describe(api: client.ApiClient, command: Command, namespace: str) -> str:
    pieces = []
    for res, names in _targets(api, command.args):
        objects = ([_read(api, res, n, namespace) for n in names] if names
                   else _list(api, res, command, namespace))
        for obj in objects[:20]:
            ns = obj["metadata"].get("namespace") or namespace
            selector = f"involvedObject.name={obj['metadata']['name']}"
            related = cluster.request(
                api, f"/api/v1/namespaces/{ns}/events" if res.namespaced else "/api/v1/events",
                query={"fieldSelector": selector}, what=f"listing events for {res.kind.lower()} "
                f"{obj['metadata']['name']}").get("items", [])
            pieces.append(output.describe(obj, related))
    return "\n\n\n".join(pieces) or f"No {command.args[0]} found."


def events(api: client.ApiClient, command: Command, namespace: str) -> str:
    """`kubectl events`: oldest first, `--for kind/name`, `--types Warning,Normal`."""
    path = ("/api/v1/events" if command.all_namespaces
            else f"/api/v1/namespaces/{namespace}/events")
    selectors = [command.field_selector] if command.field_selector else []
    if command.for_object:
        kind, _, name = command.for_object.partition("/")
        if not name:
            raise Refused("--for needs kind/name, e.g. --for pod/web-1.")
        res = cluster.resource(api, kind)
        selectors.append(f"involvedObject.kind={res.kind},involvedObject.name={name}")
    data = cluster.request(api, path, query={"fieldSelector": ",".join(selectors) or None},
                           what=f"listing events {_where(namespace, command.all_namespaces)}")
    types = {t.lower() for t in command.types}
    items = [e for e in data.get("items", [])
             if not types or (e.get("type") or "").lower() in types]
    if not items:
        return f"No events found in {namespace} namespace." if not command.all_namespaces \
            else "No events found."
    return output.events_table(items, with_namespace=command.all_namespaces)


def top(api: client.ApiClient, command: Command, namespace: str) -> str:
    nodes = command.args[0] in ("nodes", "node", "no")
    base = "/apis/metrics.k8s.io/v1beta1"
    path = f"{base}/nodes" if nodes else (f"{base}/pods" if command.all_namespaces else
                                          f"{base}/namespaces/{namespace}/pods")
    try:
        data = cluster.request(api, path, what="reading metrics")
    except ClusterError as exc:
        if "Not found" in str(exc):
            raise ClusterError("The metrics API is not available in this cluster "
                               "(metrics-server is not installed), so `top` cannot "
                               "work.") from None
        raise
    items = data.get("items", [])
    if nodes:
        capacity = {n["metadata"]["name"]: n["status"].get("allocatable", {}) for n in
                    cluster.request(api, "/api/v1/nodes", what="listing nodes")["items"]}
        rows = []
        for m in items:
            cpu, mem = _millicores(m["usage"]["cpu"]), _mebibytes(m["usage"]["memory"])
            alloc = capacity.get(m["metadata"]["name"], {})
            cpu_pct = _pct(cpu, _millicores(alloc.get("cpu", "0")))
            mem_pct = _pct(mem, _mebibytes(alloc.get("memory", "0")))
            rows.append([m["metadata"]["name"], f"{cpu}m", cpu_pct, f"{mem}Mi", mem_pct])
        return output.table(["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"], rows)
    rows = [[m["metadata"]["name"],
             f"{sum(_millicores(c['usage']['cpu']) for c in m['containers'])}m",
             f"{sum(_mebibytes(c['usage']['memory']) for c in m['containers'])}Mi"]
            for m in items]
    return output.table(["NAME", "CPU(cores)", "MEMORY(bytes)"], rows) if rows else (
        f"No pod metrics found in {namespace} namespace.")


def _millicores(value: str) -> int:
    if value.endswith("n"):
        return int(value[:-1]) // 1_000_000
    if value.endswith("u"):
        return int(value[:-1]) // 1000
    if value.endswith("m"):
        return int(value[:-1])
    return int(float(value) * 1000)


def _mebibytes(value: str) -> int:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "K": 1000 / 2**20,
             "M": 10**6 / 2**20, "G": 10**9 / 2**20}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(int(value) / 2**20)


def _pct(used: int, total: int) -> str:
    return f"{round(used * 100 / total)}%" if total else "<unknown>"


def rollout(api: client.ApiClient, command: Command, namespace: str) -> str:
    action, targets = command.args[0], command.args[1:]
    if not targets:
        raise Refused(f"`rollout {action}` needs a target, e.g. deployment/web.")
    kind, _, name = targets[0].partition("/")
    if not name and len(targets) > 1:
        kind, name = targets[0], targets[1]
    res = cluster.resource(api, kind)
    if res.kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        raise Refused("rollout works on deployments, statefulsets and daemonsets.")
    obj = _read(api, res, name, namespace)
    if action == "status":
        return _rollout_status(res.kind.lower(), obj)
    return _rollout_history(api, res, obj, namespace)


def _rollout_status(kind: str, obj: Obj) -> str:
    name, spec, status = obj["metadata"]["name"], obj.get("spec", {}), obj.get("status", {})
    desired = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < desired:
        return (f'Waiting for {kind} "{name}" rollout to finish: {updated} out of {desired} '
                "new replicas have been updated...")
    if available < updated:
        return (f'Waiting for {kind} "{name}" rollout to finish: {available} of {updated} '
                "updated replicas are available...")
    return f'{kind} "{name}" successfully rolled out'


def _rollout_history(api: client.ApiClient, res: Resource, obj: Obj, namespace: str) -> str:
    if res.kind != "Deployment":
        return f"{res.name_prefix}/{obj['metadata']['name']}: history is kept as "\
               "controllerrevisions; use get controllerrevisions."
    replica_sets = _list(api, cluster.resource(api, "replicasets.apps"), Command(verb="get"),
                         namespace)
    owned = [rs for rs in replica_sets if any(
        ref.get("kind") == "Deployment" and ref.get("name") == obj["metadata"]["name"]
        for ref in rs["metadata"].get("ownerReferences", []))]
    rows = sorted((int(rs["metadata"].get("annotations", {}).get(
        "deployment.kubernetes.io/revision", 0)), rs["metadata"].get("annotations", {}).get(
        "kubernetes.io/change-cause", "<none>")) for rs in owned)
    header = f"deployment.apps/{obj['metadata']['name']}\n"  # as kubectl prints it
    return header + output.table(["REVISION", "CHANGE-CAUSE"],
                                 [[str(rev), cause] for rev, cause in rows])


def api_resources(api: client.ApiClient, command: Command, namespace: str) -> str:
    """kubectl's table of what the cluster serves, from the same discovery `get` uses."""
    found = cluster.discovery(api).resources()  # cached, as kubectl caches it
    rows = sorted(([r.plural, ",".join(r.short), r.group_version, str(r.namespaced).lower(),
                    r.kind] for r in found), key=lambda row: (row[2].rpartition("/")[0],
                                                               row[0]))
    return output.table(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], rows)


VERBS = {"get": get, "describe": describe, "logs": logs.logs, "events": events, "top": top,
         "rollout": rollout, "api-resources": api_resources}
