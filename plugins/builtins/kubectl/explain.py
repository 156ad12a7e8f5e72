"""`kubectl explain TYPE[.field…] [--recursive]` from the cluster's OpenAPI v3, rendered as
kubectl's plaintext template renders it (k8s.io/kubectl/pkg/explain/v2), so the fields and
descriptions are the ones this cluster serves, CRDs included.

Documents are fetched by the URL the `/openapi/v3` index gives, which carries the content
hash: a document at one URL never changes, so it is cached for the process."""

from __future__ import annotations

import threading
from typing import Any

from bot import kube as cluster

from .command import Command, Refused

Obj = dict[str, Any]
_documents: dict[tuple[str, str], Obj] = {}
_lock = threading.Lock()
DOCUMENTS_KEPT = 64


def explain(api: cluster.Api, command: Command, namespace: str) -> str:
    if len(command.args) != 1:
        raise Refused("`explain` takes one TYPE[.field.path], e.g. `explain pod.spec."
                      "containers` or `explain deployment.spec --recursive`.")
    name, *path = command.args[0].split(".")
    res = cluster.resource(api, name)
    document = _document(api, res.group_version)
    gvk = _gvk(document, res)
    if gvk is None:
        raise cluster.ClusterError(f"The cluster publishes no schema for {res.plural} "
                                   f"({res.group_version}) in its OpenAPI v3.")
    component = next((schema for _, schema in sorted(document["components"]["schemas"].items())
                      if gvk in (schema.get("x-kubernetes-group-version-kind") or [])), None)
    body = Renderer(document, recursive=command.recursive).output(component or {}, path, set())
    if not body:
        parent = ".".join([name, *path[:-1]])
        raise Refused(f'The field "{path[-1] if path else name}" does not exist in '
                      f"{res.kind}; `explain {parent}` lists the fields there.")
    head = (f"GROUP:      {gvk['group']}\n" if gvk["group"] else "") + \
        f"KIND:       {gvk['kind']}\nVERSION:    {gvk['version']}\n\n"
    return (head + body).rstrip("\n")


def _document(api: cluster.Api, group_version: str) -> Obj:
    key = f"apis/{group_version}" if "/" in group_version else f"api/{group_version}"
    index = cluster.request(api, "/openapi/v3", what="reading the cluster's OpenAPI index")
    entry = (index.get("paths") or {}).get(key)
    if not entry:
        raise cluster.ClusterError(f"The cluster publishes no OpenAPI v3 document for "
                                   f"{group_version}.")
    url = entry["serverRelativeURL"]
    cache_key = (cluster.server(api), url)
    with _lock:
        if cache_key in _documents:
            return _documents[cache_key]
    path, _, query = url.partition("?")
    found = cluster.request(api, path, query=dict(p.split("=", 1) for p in query.split("&")
                                                  if "=" in p),
                            what=f"reading the OpenAPI schema of {group_version}")
    with _lock:
        if len(_documents) >= DOCUMENTS_KEPT:
            _documents.pop(next(iter(_documents)))
        _documents[cache_key] = found
    return found


def _gvk(document: Obj, res: cluster.Resource) -> Obj | None:
    prefix = res.path_prefix
    for path in (f"{prefix}/{res.plural}", f"{prefix}/{res.plural}/{{name}}",
                 f"{prefix}/namespaces/{{namespace}}/{res.plural}",
                 f"{prefix}/namespaces/{{namespace}}/{res.plural}/{{name}}"):
        element = (document.get("paths") or {}).get(path) or {}
        for method in ("get", "post", "put", "patch", "delete"):
            gvk = (element.get(method) or {}).get("x-kubernetes-group-version-kind")
            if gvk:
                return gvk
    return None


def wrap(text: str, limit: int) -> str:
    """go-wordwrap's WrapString, as kubectl wraps descriptions: words move to the next line
    past `limit`; a word longer than the limit stays whole; existing newlines stay."""
    out: list[str] = []
    current = 0
    word, space = "", ""
    for char in text:
        if char == "\n":
            if not word:
                if current + len(space) <= limit:
                    out.append(space)
            else:
                out.append(space + word)
            word, space, current = "", "", 0
            out.append(char)
        elif char.isspace() and char != "\u00a0":
            if not space or word:
                current += len(space) + len(word)
                out.append(space + word)
                word, space = "", ""
            space += char
        else:
            word += char
            if current + len(word) + len(space) > limit and len(word) < limit:
                out.append("\n")
                current, space = 0, ""
    if not word:
        if current + len(space) <= limit:
            out.append(space)
    else:
        out.append(space + word)
    return "".join(out)


def indent(amount: int, text: str) -> str:
    pad = " " * amount
    return pad + text.replace("\n", "\n" + pad)


def _is_map(schema: Obj) -> bool:
    return isinstance(schema.get("additionalProperties"), dict)


class Renderer:
    """The plaintext template's `output`, `fieldList`, `fieldDetail`, `description`,
    `typeGuess` and `extractEnum`."""

    def __init__(self, document: Obj, *, recursive: bool) -> None:
        self.schemas = (document.get("components") or {}).get("schemas") or {}
        self.recursive = recursive

    def resolve(self, ref: str | None) -> Obj | None:
        return self.schemas.get(ref.rsplit("/", 1)[-1]) if ref else None

    def output(self, schema: Obj, path: list[str], history: set[str]) -> str:
        ref = schema.get("$ref") or ""
        resolved = self.resolve(ref) or schema
        if not path:
            text = "DESCRIPTION:\n" + indent(4, wrap(self.description(resolved) or "<empty>",
                                                     76)) + "\n"
            fields = self.field_list(resolved, 1, set())
            return text + ("FIELDS:\n" + fields if fields else "")
        if ref and ref in history:
            return ""
        history = history | {ref}
        properties = resolved.get("properties") or {}
        if path[0] in properties:
            sub = properties[path[0]]
            head = ""
            if len(path) == 1:
                head = (f"FIELD: {path[0]} <{self.type_guess(sub)}>\n"
                        f"{self.enum(sub, long=True, limit=-1, indent_by=0)}\n\n")
            return head + self.output(sub, path[1:], set())
        if resolved.get("items"):
            return self.output(resolved["items"], path, history)
        if _is_map(resolved):
            return self.output(resolved["additionalProperties"], path, history)
        for sub in resolved.get("allOf") or []:
            found = self.output(sub, path, history)
            if found:
                return found
        return ""

    def field_list(self, schema: Obj, level: int, history: set[str]) -> str:
        ref = schema.get("$ref") or ""
        if ref and ref in history:
            return ""
        history = history | {ref}
        resolved = self.resolve(ref) or schema
        text = ""
        for name, sub in sorted((resolved.get("properties") or {}).items()):
            text += self.field_detail(name, resolved, level)
            if self.recursive:
                text += self.field_list(sub, level + 1, history)
        for sub in resolved.get("allOf") or []:
            text += self.field_list(sub, level, history)
        if resolved.get("items"):
            text += self.field_list(resolved["items"], level, history)
        if _is_map(resolved):
            text += self.field_list(resolved["additionalProperties"], level, history)
        return text

    def field_detail(self, name: str, schema: Obj, level: int) -> str:
        amount = level * 2
        field = schema["properties"][name]
        required = " -required-" if name in (schema.get("required") or []) else ""
        line = (f"{indent(amount, name)}\t<{self.type_guess(field)}>{required}"
                f"{self.enum(field, long=False, limit=4, indent_by=amount)}\n")
        if self.recursive:
            return line
        described = wrap(field.get("description") or "<no description>", 78 - amount)
        return line + indent(amount + 2, described) + "\n\n"

    def description(self, schema: Obj) -> str:
        resolved = self.resolve(schema.get("$ref")) or schema
        text = resolved["description"] + "\n" if resolved.get("description") else ""
        for sub in resolved.get("allOf") or []:
            text += self.description(sub)
        if resolved.get("items"):
            text += self.description(resolved["items"])
        if _is_map(resolved):
            text += self.description(resolved["additionalProperties"])
        return text

    def type_guess(self, schema: Obj) -> str:
        if schema.get("items"):
            return "[]" + self.type_guess(schema["items"])
        if _is_map(schema):
            return "map[string]" + self.type_guess(schema["additionalProperties"])
        if len(schema.get("allOf") or []) == 1 and not schema.get("properties"):
            return self.type_guess(schema["allOf"][0])
        if schema.get("$ref"):
            target = self.resolve(schema["$ref"])
            if not target or target.get("type") in (None, "object"):
                return schema["$ref"].split("/")[-1].split(".")[-1] or "Object"
            return str(target["type"])
        kind = schema.get("type")
        return "Object" if kind in (None, "object") else str(kind)

    def enum(self, schema: Obj, *, long: bool, limit: int, indent_by: int) -> str:
        values = schema.get("enum")
        if not values:
            return ""
        text = "ENUM:" if long else "\n" + " " * indent_by + "enum: "
        for i, value in enumerate(values):
            if limit > -1 and i >= limit:
                return text + ", ...."
            text += "\n    " if long else (", " if i else "")
            text += '""' if value == "" else str(value)
        return text
