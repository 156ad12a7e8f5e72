"""`get`: the server's Table for every kind (tables.py lays it out), `-o name|yaml|json`,
`-o jsonpath=…`, `-o custom-columns=…` and `--sort-by`; Secret values never leave, in any
form (bot.kube masks every object as it is read, before a template sees it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import kube as cluster
from bot.kube import Resource
from bot.kube.names import collection_path, object_path

from . import extras, jsonpath, output, tables
from .command import Command, Refused

Obj = dict[str, Any]


def where(namespace: str | None, all_namespaces: bool) -> str:
    return "in all namespaces" if all_namespaces else f"in namespace {namespace}"


def list_objects(api: cluster.Api, res: Resource, command: Command,
                 namespace: str) -> list[Obj]:
    data = cluster.request(api, _list_path(res, command, namespace),
                           query={"labelSelector": command.selector,
                                  "fieldSelector": command.field_selector},
                           what=_listing(res, command, namespace))
    items = data.get("items", [])
    for item in items:
        item.setdefault("kind", res.kind)
    return items


def read_object(api: cluster.Api, res: Resource, name: str, namespace: str) -> Obj:
    """One object, as every output sees it (masked as it was read)."""
    obj = cluster.request(api, object_path(res, name, namespace),
                          what=_getting(res, name, namespace))
    obj.setdefault("kind", res.kind)
    return obj


def targets(api: cluster.Api, args: Sequence[str]) -> list[tuple[Resource, list[str]]]:
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


def _table(api: cluster.Api, res: Resource, command: Command, namespace: str,
           names: list[str]) -> Obj:
    """The server's Table for the objects (one request per named object); kubectl's own
    NAME/AGE default when the server answers without one."""
    query = {"labelSelector": command.selector, "fieldSelector": command.field_selector,
             "includeObject": "Object" if command.sort_by else None}  # to sort by any field
    if not names:
        return tables.as_table(cluster.request(
            api, _list_path(res, command, namespace), query=query, accept=cluster.TABLE,
            what=_listing(res, command, namespace)))
    found = [tables.as_table(cluster.request(
        api, object_path(res, name, namespace), accept=cluster.TABLE,
        what=_getting(res, name, namespace))) for name in names]
    first = dict(found[0])
    first["rows"] = [row for t in found for row in t.get("rows") or []]
    return first


def _list_path(res: Resource, command: Command, namespace: str) -> str:
    return collection_path(res, None if command.all_namespaces else namespace)


def _listing(res: Resource, command: Command, namespace: str) -> str:
    return f"listing {res.plural}" + (f" {where(namespace, command.all_namespaces)}"
                                      if res.namespaced else "")


def _getting(res: Resource, name: str, namespace: str) -> str:
    return f"getting {res.kind.lower()} {name}" + (f" in namespace {namespace}"
                                                   if res.namespaced else "")


def get(api: cluster.Api, command: Command, namespace: str) -> str:
    if command.raw is not None:
        return extras.raw(api, command.raw)
    wanted = targets(api, command.args)
    out = command.output or ""
    if out in ("yaml", "json", "name") or out.startswith(("jsonpath=", "custom-columns=")):
        return _from_objects(api, command, namespace, wanted)
    several = len(wanted) > 1
    blocks: list[str] = []
    for res, names in wanted:
        table = _table(api, res, command, namespace, names)
        if command.sort_by:
            table["rows"] = _sorted(table.get("rows") or [], command.sort_by,
                                    key=lambda row: row.get("object") or {})
        if table.get("rows"):
            blocks.append(tables.render(
                table, res, wide=out == "wide", name_prefix=several,
                with_namespace=command.all_namespaces and res.namespaced,
                show_labels=command.show_labels, label_columns=command.label_columns,
                no_headers=command.no_headers))
    if not blocks:
        return _nothing(wanted, command, namespace)
    return "\n\n".join(blocks)


def _nothing(wanted: list[tuple[Resource, list[str]]], command: Command, namespace: str) -> str:
    return (f"No resources found in {namespace} namespace." if any(
        r.namespaced for r, _ in wanted) and not command.all_namespaces
        else "No resources found")


def _from_objects(api: cluster.Api, command: Command, namespace: str,
                  wanted: list[tuple[Resource, list[str]]]) -> str:
    """The forms built from whole objects (masked as they were read)."""
    found = [(res, o) for res, names in wanted for o in (
        [read_object(api, res, n, namespace) for n in names] if names
        else list_objects(api, res, command, namespace))]
    if command.sort_by:
        found = _sorted(found, command.sort_by, key=lambda pair: pair[1])
    out = command.output or ""
    if out == "name":
        return "\n".join(f"{res.name_prefix}/{o['metadata']['name']}" for res, o in found)
    objects = [o for _, o in found]
    single = len(objects) == 1 and any(names for _, names in wanted)
    if out in ("yaml", "json"):
        return output.serialise(objects, fmt=out, single=single)
    if not objects and not out.startswith("jsonpath="):
        return _nothing(wanted, command, namespace)
    try:
        if out.startswith("jsonpath="):
            data = objects[0] if single else {"apiVersion": "v1", "items": objects,
                                              "kind": "List", "metadata": {"resourceVersion": ""}}
            return jsonpath.render(out.removeprefix("jsonpath="), data).rstrip("\n")
        return _custom_columns(out.removeprefix("custom-columns="), objects, command.no_headers)
    except jsonpath.JsonPathError as exc:
        raise Refused(f"error parsing {out.split('=', 1)[0]} template: {exc}.") from None


def _custom_columns(spec: str, objects: list[Obj], no_headers: bool) -> str:
    columns = []
    for part in (p for p in spec.split(",") if p):
        header, sep, path = part.partition(":")
        if not sep or not path:
            raise Refused(f"custom-columns needs HEADER:PATH pairs, e.g. "
                          f"NAME:.metadata.name; got {part!r}.")
        columns.append((header, path))
    rows = [[",".join(jsonpath.text_of(v) for v in jsonpath.values(path, o)) or "<none>"
             for _, path in columns] for o in objects]
    return output.table([h for h, _ in columns], rows, show_headers=not no_headers)


def _sorted(items: list[Any], path: str, *, key: Any) -> list[Any]:
    """kubectl's --sort-by: by the first value the path selects (numbers as numbers)."""
    def value(item: Any) -> tuple[int, Any]:
        try:
            found = jsonpath.values(path, key(item))
        except jsonpath.JsonPathError as exc:
            raise Refused(f"--sort-by: {exc}.") from None
        first = found[0] if found else None
        if isinstance(first, int | float) and not isinstance(first, bool):
            return (1, first)
        return (0 if first is None else 2, jsonpath.text_of(first))
    return sorted(items, key=value)
