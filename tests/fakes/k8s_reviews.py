"""The fake API server's review APIs and health endpoints, as kube-apiserver serves them:
SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectReview (`auth whoami`),
`/healthz`, `/readyz`, `/livez`. Who may do what comes from the fake's `denied` rules and
`forbidden_namespaces`, the same ones its reads obey."""

from __future__ import annotations

from typing import Any

USER = "system:serviceaccount:chatops:bot"
GROUPS = ["system:serviceaccounts", "system:serviceaccounts:chatops", "system:authenticated"]
REVIEW_RESOURCES = {
    "authorization.k8s.io/v1": [("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                                ("selfsubjectrulesreviews", "SelfSubjectRulesReview")],
    "authentication.k8s.io/v1": [("selfsubjectreviews", "SelfSubjectReview")],
}
HEALTH = ("/healthz", "/readyz", "/livez")
# What a read-only ClusterRole plus the default system:basic-user and discovery roles give a
# service account; a forbidden namespace keeps only the cluster-wide part.
REVIEW_RULES = [
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
     "resources": ["selfsubjectreviews"]},
]
READ_RULES = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}]
NON_RESOURCE_RULES = [
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                           "/livez", "/openapi", "/openapi/*", "/readyz",
                                           "/version", "/version/"]}]


def allowed(fake: Any, verb: str, resource: str, namespace: str | None,
            group: str | None = None) -> bool:
    """Whether the bot's service account may: the fake's `rules` when set (a ClusterRole's,
    as RBAC evaluates them: a rule allows when its group, resource and verb all match),
    less its `denied` triples and `forbidden_namespaces`."""
    if namespace and namespace in fake.forbidden_namespaces:
        return False
    if fake.rules is not None and not any(
            _grants(rule, verb, resource, group) for rule in fake.rules):
        return False
    return not any(v in (verb, "*") and r in (resource, "*") and ns in (namespace, None)
                   for v, r, ns in fake.denied)


def _grants(rule: dict[str, Any], verb: str, resource: str, group: str | None) -> bool:
    groups, resources, verbs = (rule.get(key) or [] for key in ("apiGroups", "resources",
                                                                 "verbs"))
    return ((group is None or group in groups or "*" in groups)
            and (resource in resources or "*" in resources)
            and (verb in verbs or "*" in verbs))


def denial(verb: str, resource: str, group: str, namespace: str | None) -> str:
    """kube-apiserver's words: a grouped resource is named with its group."""
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    qualified = f"{resource}.{group}" if group else resource
    return (f'{qualified} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in '
            f'API group "{group}"{where}')


def discovery(group_version: str) -> dict[str, Any] | None:
    if group_version not in REVIEW_RESOURCES:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": "", "namespaced": False,
                           "kind": kind, "verbs": ["create"]}
                          for plural, kind in REVIEW_RESOURCES[group_version]]}


def create(fake: Any, path: str, body: Any) -> tuple[int, Any, str] | None:
    """The answer to a POST on a review API; None for any other path."""
    spec = (body or {}).get("spec") or {}
    if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
        attributes = spec.get("resourceAttributes") or {}
        resource = attributes.get("resource", "") + (
            f"/{attributes['subresource']}" if attributes.get("subresource") else "")
        ok = allowed(fake, attributes.get("verb", ""), resource,
                     attributes.get("namespace") or None, attributes.get("group", ""))
        status = {"allowed": ok, **({} if ok else {"reason": ""})}
        return 201, {"kind": "SelfSubjectAccessReview", "apiVersion":
                     "authorization.k8s.io/v1", "metadata": {}, "spec": spec,
                     "status": status}, "application/json"
    if path == "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews":
        namespace = spec.get("namespace") or ""
        rules = REVIEW_RULES + ([] if namespace in fake.forbidden_namespaces else READ_RULES)
        return 201, {"kind": "SelfSubjectRulesReview", "apiVersion":
                     "authorization.k8s.io/v1", "metadata": {}, "spec": spec,
                     "status": {"resourceRules": rules, "nonResourceRules": NON_RESOURCE_RULES,
                                "incomplete": False}}, "application/json"
    if path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
        return 201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                     "metadata": {}, "status": {"userInfo": {
                         "username": USER, "uid": "5f0e6c1a-0000-4000-8000-000000000b07",
                         "groups": GROUPS}}}, "application/json"
    return None
