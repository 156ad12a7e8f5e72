"""Read-only extras: `auth can-i`, `auth whoami`, `version`, `get --raw` of the health and
version endpoints. The review APIs here are the only POSTs the tool ever sends: they
create nothing, they ask the API server a question."""

from __future__ import annotations

import json
from typing import Any

import yaml

from bot import kube as cluster

from . import output
from .command import Command, Refused

RAW_PATHS = ("/healthz", "/readyz", "/livez", "/version")
ACCESS_REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
RULES_REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def auth(api: cluster.Api, command: Command, namespace: str) -> str:
    action, rest = (command.args[0], command.args[1:]) if command.args else ("", [])
    if action == "whoami":
        return _whoami(api)
    if action != "can-i":
        raise Refused("Use `auth can-i VERB RESOURCE [-n NS]`, `auth can-i --list` or "
                      "`auth whoami`.")
    if command.list_rules:
        return _rules(api, namespace, headers=not command.no_headers)
    if len(rest) < 2:
        raise Refused("`auth can-i` needs a verb and a resource, e.g. `auth can-i list pods "
                      "-n prod`.")
    verb, target = rest[0], rest[1]
    kind, _, name = target.partition("/")
    res = cluster.resource(api, kind)
    attributes: dict[str, Any] = {"verb": verb, "resource": res.plural, "group": res.group}
    if name:
        attributes["name"] = name
    if res.namespaced and not command.all_namespaces:
        attributes["namespace"] = namespace
    review = cluster.request(api, ACCESS_REVIEW, method="POST", content_type="application/json",
                             body={"apiVersion": "authorization.k8s.io/v1",
                                   "kind": "SelfSubjectAccessReview",
                                   "spec": {"resourceAttributes": attributes}},
                             what=f"asking whether the bot may {verb} {res.plural}")
    return "yes" if (review.get("status") or {}).get("allowed") else "no"


def _rules(api: cluster.Api, namespace: str, *, headers: bool) -> str:
    """`auth can-i --list`: the rules review, broken down to one verb per resource, simple
    rules merged again, sorted as kubectl sorts them."""
    review = cluster.request(api, RULES_REVIEW, method="POST", content_type="application/json",
                             body={"apiVersion": "authorization.k8s.io/v1",
                                   "kind": "SelfSubjectRulesReview",
                                   "spec": {"namespace": namespace}},
                             what=f"asking what the bot may do in namespace {namespace}")
    status = review.get("status") or {}
    rules = _compact([piece for rule in status.get("resourceRules") or []
                      for piece in _breakdown(rule)])
    rules += [{"verbs": [verb], "nonResourceURLs": [url]}
              for rule in status.get("nonResourceRules") or []
              for url in rule.get("nonResourceURLs") or [] for verb in rule.get("verbs") or []]
    rows = [[_resource_group(r), _go_list(r.get("nonResourceURLs")),
             _go_list(r.get("resourceNames")), _go_list(r["verbs"])]
            for r in sorted(rules, key=_rule_string)]
    text = output.table(["Resources", "Non-Resource URLs", "Resource Names", "Verbs"], rows,
                        show_headers=headers)
    if status.get("incomplete"):
        text = f"Warning: the list may be incomplete: {status.get('evaluationError', '')}\n" \
            + text
    return text


def _breakdown(rule: dict[str, Any]) -> list[dict[str, Any]]:
    names = rule.get("resourceNames") or [None]
    return [{"verbs": [verb], "apiGroups": [group], "resources": [resource],
             **({"resourceNames": [name]} if name else {})}
            for group in rule.get("apiGroups") or [] for resource in rule.get("resources") or []
            for verb in rule.get("verbs") or [] for name in names]


def _compact(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """rbac CompactRules: one rule per group, resource and name, its verbs merged in order."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rule in rules:
        key = (rule["apiGroups"][0], rule["resources"][0], *(rule.get("resourceNames") or [""]))
        if key in merged:
            merged[key]["verbs"] += [v for v in rule["verbs"] if v not in merged[key]["verbs"]]
        else:
            merged[key] = {**rule, "verbs": list(rule["verbs"])}
    return list(merged.values())


def _go_list(values: list[str] | None) -> str:
    return f"[{' '.join(values or [])}]"


def _resource_group(rule: dict[str, Any]) -> str:
    """describe.CombineResourceGroup: resource.group[/subresource]."""
    if not rule.get("resources"):
        return ""
    resource, _, sub = rule["resources"][0].partition("/")
    group = (rule.get("apiGroups") or [""])[0]
    return resource + (f".{group}" if group else "") + (f"/{sub}" if sub else "")


def _rule_string(rule: dict[str, Any]) -> str:
    """PolicyRule.String(), which kubectl sorts by."""
    return (f"&PolicyRule{{Verbs:{_go_list(rule.get('verbs'))},APIGroups:"
            f"{_go_list(rule.get('apiGroups'))},Resources:{_go_list(rule.get('resources'))},"
            f"ResourceNames:{_go_list(rule.get('resourceNames'))},NonResourceURLs:"
            f"{_go_list(rule.get('nonResourceURLs'))},}}")


def _whoami(api: cluster.Api) -> str:
    review = cluster.request(api, WHOAMI, method="POST", content_type="application/json",
                             body={"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "SelfSubjectReview"},
                             what="asking who the bot is")
    user = (review.get("status") or {}).get("userInfo") or {}
    rows = [["Username", user.get("username", "")]]
    if user.get("uid"):
        rows.append(["UID", user["uid"]])
    if user.get("groups"):
        rows.append(["Groups", f"[{' '.join(user['groups'])}]"])
    return output.table(["ATTRIBUTE", "VALUE"], rows)


VERSION_FIELDS = ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
                  "goVersion", "compiler", "platform")  # k8s.io/apimachinery version.Info


def version(api: cluster.Api, command: Command, namespace: str) -> str:
    """The server's version: `Server Version: …`, or with `-o json|yaml` kubectl's
    serverVersion object (there is no client here, so no clientVersion)."""
    info = cluster.request(api, "/version", what="reading the server's version")
    if command.output in ("json", "yaml"):
        server = {field: info.get(field, "") for field in VERSION_FIELDS}
        if command.output == "json":
            return json.dumps({"serverVersion": server}, indent=2)
        return yaml.safe_dump({"serverVersion": server}, sort_keys=True).rstrip()  # as kubectl
    if command.output:
        raise Refused("version prints as text, or with -o json or -o yaml.")
    return f"Server Version: {info.get('gitVersion', 'unknown')}"


def api_versions(api: cluster.Api, command: Command, namespace: str) -> str:
    """Every group/version the server serves (every version of a group, not only its
    preferred one), sorted, as `kubectl api-versions` prints them."""
    core = cluster.request(api, "/api", what="reading the server's API versions")
    groups = cluster.request(api, "/apis", what="reading the server's API groups")
    found = set(core.get("versions") or []) | {
        version["groupVersion"] for group in groups.get("groups") or []
        for version in group.get("versions") or []}
    return "\n".join(sorted(found))


CLUSTER_SERVICE = "kubernetes.io/cluster-service"


def cluster_info(api: cluster.Api, command: Command, namespace: str) -> str:
    """Where the control plane and the cluster's own services (kube-system's, labelled
    kubernetes.io/cluster-service=true) are reached, as `kubectl cluster-info` says it
    (without its terminal colours)."""
    if command.args:
        raise Refused("`cluster-info dump` is not available here: it copies the cluster's "
                      "logs and objects wholesale; ask for what you need (get, describe, "
                      "logs, events).")
    host = cluster.server(api).rstrip("/")
    lines = [f"Kubernetes control plane is running at {host}"]
    services = cluster.request(
        api, "/api/v1/namespaces/kube-system/services",
        query={"labelSelector": f"{CLUSTER_SERVICE}=true"},
        what="listing the cluster's services in namespace kube-system")
    for service in services.get("items") or []:
        name = (service["metadata"].get("labels") or {}).get("kubernetes.io/name") or \
            service["metadata"]["name"]
        lines.append(f"{name} is running at {_service_link(host, service)}")
    return "\n".join(lines) + ("\n\nTo further debug and diagnose cluster problems, use "
                               "'kubectl cluster-info dump'.")


def _service_link(host: str, service: dict[str, Any]) -> str:
    """kubectl's link to a cluster service: its load balancer's address and every port,
    else the API server's proxy path to its first port (https guessed by name or 443)."""
    ports = (service.get("spec") or {}).get("ports") or []
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        address = ingress[0].get("ip") or ingress[0].get("hostname") or ""
        return "".join(f"http://{address}:{port.get('port')} " for port in ports)
    name = service["metadata"]["name"]
    if ports:  # utilnet.JoinSchemeNamePort
        port, scheme = ports[0].get("name") or "", ""
        if port == "https" or ports[0].get("port") == 443:
            scheme = "https"
        name = f"{scheme}:{name}:{port}" if scheme else f"{name}:{port}" if port else name
    return f"{host}/api/v1/namespaces/{service['metadata']['namespace']}/services/{name}/proxy"


def raw(api: cluster.Api, path: str) -> str:
    if path.split("?")[0] not in RAW_PATHS:
        raise Refused(f"get --raw reads only {', '.join(RAW_PATHS)} (read-only health and "
                      "version endpoints).")
    return cluster.request(api, path, what=f"reading {path}", raw=True).rstrip("\n")
