"""The fake API server's OpenAPI v3, as kube-apiserver publishes it: `/openapi/v3` lists one
document per group-version (with a content hash in its URL), each document has the paths
(operations carry x-kubernetes-group-version-kind) and the component schemas.

The built-in schemas come from the official Python client's models (their pydantic JSON
schemas carry the API's own descriptions and required fields), reshaped the way
kube-apiserver writes them: a reference with a description is `allOf: [{$ref}]`, optional
fields are plain types. A CRD's document is built from its openAPIV3Schema, as the
apiextensions server builds it."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from kubernetes.client import models

Obj = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
META_TYPES = {"ObjectMeta", "ListMeta", "OwnerReference", "ManagedFieldsEntry",
              "LabelSelector", "LabelSelectorRequirement", "Condition", "Time"}
# Fields whose values the API enumerates (the Python models do not say).
ENUMS = {("PodSpec", "restartPolicy"): ["Always", "Never", "OnFailure"],
         ("PodSpec", "dnsPolicy"): ["ClusterFirst", "ClusterFirstWithHostNet", "Default",
                                    "None"],
         ("Container", "imagePullPolicy"): ["Always", "IfNotPresent", "Never"],
         ("DeploymentStrategy", "type"): ["Recreate", "RollingUpdate"],
         ("ServiceSpec", "type"): ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]}
API_VERSION = ("APIVersion defines the versioned schema of this representation of an object. "
               "Servers should convert recognized schemas to the latest internal value, and "
               "may reject unrecognized values. More info: https://git.k8s.io/community/"
               "contributors/devel/sig-architecture/api-conventions.md#resources")
KIND = ("Kind is a string value representing the REST resource this object represents. "
        "Servers may infer this from the endpoint the client submits requests to. Cannot be "
        "updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
        "sig-architecture/api-conventions.md#types-kinds")


def _short(model_name: str) -> str:
    return re.sub(r"^V\d+(?:alpha\d+|beta\d+)?", "", model_name)


def _component(model_name: str, group_version: str) -> str:
    name = _short(model_name)
    if name in META_TYPES:
        return META + name
    group, _, version = group_version.rpartition("/")
    return f"io.k8s.api.{(group or 'core').split('.')[0]}.{version}.{name}"


def _reshape(schema: Any, names: dict[str, str]) -> Any:
    """A pydantic property schema as kube-apiserver writes it."""
    if not isinstance(schema, dict):
        return schema
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if options:  # Optional[X]: X; several (IntOrString): either, as x-kubernetes-int-or-string
        base = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**base, **options[0]} if len(options) == 1 else {
            **base, "x-kubernetes-int-or-string": True}
    out: Obj = {}
    for key, value in schema.items():
        if key in ("title", "default") or (key == "additionalProperties" and
                                           isinstance(value, bool)):
            continue  # kube-apiserver writes free-form objects as plain `type: object`
        if key == "$ref":
            out["allOf"] = [{"$ref": "#/components/schemas/" + names[value.split("/")[-1]]}]
            out["default"] = {}
        elif key == "items" or key == "additionalProperties":
            out[key] = _reshape(value, names)
        else:
            out[key] = value
    return out


@functools.cache
def _model_schemas(kind_model: str) -> Obj:
    schema = getattr(models, kind_model).model_json_schema(by_alias=True, mode="serialization")
    definitions = dict(schema.pop("$defs", {}))
    definitions[kind_model] = schema
    return definitions


def _description(model_name: str) -> str:
    doc = getattr(models, model_name, None).__doc__ or ""
    return " ".join(doc.split("Attributes:")[0].split())


def built_in(group_version: str, kinds: list[str]) -> tuple[Obj, Obj]:
    """The components of a built-in group-version's kinds, and each kind's component name."""
    components: Obj = {}
    tops: Obj = {}
    for kind in kinds:
        model = f"{group_version.rpartition('/')[2].capitalize()}{kind}"
        if not hasattr(models, model):
            continue
        definitions = _model_schemas(model)
        names = {name: _component(name, group_version) for name in definitions}
        for name, definition in definitions.items():
            short = _short(name)
            properties = {field: _reshape(value, names) for field, value in
                          (definition.get("properties") or {}).items()}
            for (owner, field), values in ENUMS.items():
                if owner == short and field in properties:
                    properties[field]["enum"] = values
            component = {"description": _description(name), "type": "object",
                         "properties": properties}
            if definition.get("required"):
                component["required"] = definition["required"]
            components[names[name]] = component
        group, _, version = group_version.rpartition("/")
        components[names[model]]["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version}]
        tops[kind] = names[model]
    return components, tops


def crd_components(crd: Obj, version: Obj) -> tuple[Obj, str]:
    """A CRD version's component, as the apiextensions server publishes it."""
    spec = crd["spec"]
    reverse = ".".join(reversed(spec["group"].split(".")))
    name = f"{reverse}.{version['name']}.{spec['names']['kind']}"
    schema = dict((version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"})
    properties = dict(schema.get("properties") or {})
    properties.update({
        "apiVersion": {"type": "string", "description": API_VERSION},
        "kind": {"type": "string", "description": KIND},
        "metadata": {"allOf": [{"$ref": f"#/components/schemas/{META}ObjectMeta"}],
                     "description": "Standard object's metadata. More info: https://git.k8s.io"
                     "/community/contributors/devel/sig-architecture/api-conventions.md"
                     "#metadata"}})
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [
        {"group": spec["group"], "kind": spec["names"]["kind"], "version": version["name"]}]
    meta, _ = built_in("v1", ["Pod"])  # ObjectMeta and what it references
    components = {key: value for key, value in meta.items() if key.startswith(META)}
    components[name] = schema
    return components, name


def document(fake: Any, group_version: str) -> Obj | None:
    """The OpenAPI v3 document of one group-version the fake serves."""
    served = [(plural, kind, namespaced) for plural, (gv, kind, namespaced, _) in
              fake.resources.items() if gv == group_version]
    if not served:
        return None
    crd = next((c for c in fake.objects.get("customresourcedefinitions", [])
                if f"{c['spec']['group']}/" in group_version + "/" and any(
                    f"{c['spec']['group']}/{v['name']}" == group_version
                    for v in c["spec"]["versions"])), None)
    if crd is not None:
        version = next(v for v in crd["spec"]["versions"]
                       if f"{crd['spec']['group']}/{v['name']}" == group_version)
        components, top = crd_components(crd, version)
        tops = {crd["spec"]["names"]["kind"]: top}
    else:
        components, tops = built_in(group_version, [kind for _, kind, _ in served])
    group, _, version_name = group_version.rpartition("/")
    prefix = f"/apis/{group_version}" if group else "/api/v1"
    paths: Obj = {}
    for plural, kind, namespaced in served:
        if kind not in tops:
            continue
        path = f"{prefix}/namespaces/{{namespace}}/{plural}" if namespaced \
            else f"{prefix}/{plural}"
        paths[path] = {"get": {"x-kubernetes-action": "list", "x-kubernetes-group-version-kind":
                               {"group": group, "kind": kind, "version": version_name}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.2"},
            "paths": paths, "components": {"schemas": components}}


def index(fake: Any) -> Obj:
    """`/openapi/v3`: each group-version's document, its URL carrying the content hash."""
    entries: Obj = {}
    for group_version in sorted({gv for gv, _, _, _ in fake.resources.values()}):
        key = f"apis/{group_version}" if "/" in group_version else f"api/{group_version}"
        digest = hashlib.sha512(group_version.encode()).hexdigest()[:128].upper()
        entries[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": entries}


def answer(fake: Any, parts: list[str]) -> tuple[int, Any, str]:
    """GET /openapi/v3[/api/v1 | /apis/GROUP/VERSION]; anything else is 404 as on a server
    that publishes only v3 here."""
    if parts[:2] != ["openapi", "v3"]:
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                     "reason": "NotFound", "code": 404, "message": "the server could not "
                     "find the requested resource"}, "application/json"
    if len(parts) == 2:
        return 200, index(fake), "application/json"
    group_version = "/".join(parts[3:]) if parts[2] == "apis" else "/".join(parts[3:]) or "v1"
    found = document(fake, group_version) if parts[2] in ("api", "apis") else None
    if found is None:
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                     "reason": "NotFound", "code": 404, "message": "the server could not "
                     "find the requested resource"}, "application/json"
    return 200, json.loads(json.dumps(found)), "application/json"
