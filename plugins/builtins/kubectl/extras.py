"""Read-only extras: `auth can-i`, `auth whoami`, `version`, `get --raw` of the health and
version endpoints. The review APIs here are the only POSTs the tool ever sends: they
create nothing, they ask the API server a question."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from bot import kube as cluster

from . import output
from .command import Command, Refused

RAW_PATHS = ("/healthz", "/readyz", "/livez", "/version")
ACCESS_REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def auth(api: client.ApiClient, command: Command, namespace: str) -> str:
    action, rest = (command.args[0], command.args[1:]) if command.args else ("", [])
    if action == "whoami":
        return _whoami(api)
    if action != "can-i":
        raise Refused("Use `auth can-i VERB RESOURCE [-n NS]` or `auth whoami`.")
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


def _whoami(api: client.ApiClient) -> str:
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


def version(api: client.ApiClient, command: Command, namespace: str) -> str:
    info = cluster.request(api, "/version", what="reading the server's version")
    return f"Server Version: {info.get('gitVersion', 'unknown')}"


def raw(api: client.ApiClient, path: str) -> str:
    if path.split("?")[0] not in RAW_PATHS:
        raise Refused(f"get --raw reads only {', '.join(RAW_PATHS)} (read-only health and "
                      "version endpoints).")
    return cluster.request(api, path, what=f"reading {path}", raw=True).rstrip("\n")
