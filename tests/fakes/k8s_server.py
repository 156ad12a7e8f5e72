"""A fake Kubernetes API server on 127.0.0.1, for the real `kubernetes` client.

Objects come from YAML fixture files; the server answers list/get for core and grouped
resources (namespaced and cluster-wide paths), label and field selectors, pod logs
(`tailLines`, `previous`, `sinceSeconds`), the metrics API, discovery (`/version`, `/api`,
`/apis`, group versions) and errors as `Status` objects, with the codes and messages a real
API server sends.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.fakes import k8s_crds, k8s_openapi, k8s_reviews, k8s_slices, k8s_tables
from tests.fakes.base import FakeHTTPService, QuietHandler
from tests.fakes.k8s_selectors import fields_match, labels_match, merge, unsupported_fields
from tests.fakes.tls import certificates

TOKEN = "fake-k8s-token"
FIXTURES = Path(__file__).parent / "k8s"

# plural -> (group/version, kind, namespaced, short names)
RESOURCES: dict[str, tuple[str, str, bool, tuple[str, ...]]] = {
    "pods": ("v1", "Pod", True, ("po",)), "services": ("v1", "Service", True, ("svc",)),
    "endpoints": ("v1", "Endpoints", True, ("ep",)),
    "nodes": ("v1", "Node", False, ("no",)), "namespaces": ("v1", "Namespace", False, ("ns",)),
    "events": ("v1", "Event", True, ("ev",)), "configmaps": ("v1", "ConfigMap", True, ("cm",)),
    "secrets": ("v1", "Secret", True, ()),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaim", True, ("pvc",)),
    "serviceaccounts": ("v1", "ServiceAccount", True, ("sa",)),
    "deployments": ("apps/v1", "Deployment", True, ("deploy",)),
    "replicasets": ("apps/v1", "ReplicaSet", True, ("rs",)),
    "statefulsets": ("apps/v1", "StatefulSet", True, ("sts",)),
    "daemonsets": ("apps/v1", "DaemonSet", True, ("ds",)),
    "controllerrevisions": ("apps/v1", "ControllerRevision", True, ()),
    "jobs": ("batch/v1", "Job", True, ()), "cronjobs": ("batch/v1", "CronJob", True, ("cj",)),
    "ingresses": ("networking.k8s.io/v1", "Ingress", True, ("ing",)),
    "ingressclasses": ("networking.k8s.io/v1", "IngressClass", False, ()),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler", True, ("hpa",)),
    "replicationcontrollers": ("v1", "ReplicationController", True, ("rc",)),
    "persistentvolumes": ("v1", "PersistentVolume", False, ("pv",)),
    "resourcequotas": ("v1", "ResourceQuota", True, ("quota",)),
    "limitranges": ("v1", "LimitRange", True, ("limits",)),
    "storageclasses": ("storage.k8s.io/v1", "StorageClass", False, ("sc",)),
    "poddisruptionbudgets": ("policy/v1", "PodDisruptionBudget", True, ("pdb",)),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True, ("netpol",)),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice", True, ()),
    "leases": ("coordination.k8s.io/v1", "Lease", True, ()),
    "roles": ("rbac.authorization.k8s.io/v1", "Role", True, ()),
    "rolebindings": ("rbac.authorization.k8s.io/v1", "RoleBinding", True, ()),
    "clusterroles": ("rbac.authorization.k8s.io/v1", "ClusterRole", False, ()),
    "clusterrolebindings": ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False, ()),
    "validatingwebhookconfigurations": ("admissionregistration.k8s.io/v1",
                                        "ValidatingWebhookConfiguration", False, ()),
    "mutatingwebhookconfigurations": ("admissionregistration.k8s.io/v1",
                                      "MutatingWebhookConfiguration", False, ()),
    "customresourcedefinitions": ("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                  False, ("crd", "crds")),
}
# kube-apiserver's `all` category: what `kubectl get all` lists
CATEGORIES = {plural: ("all",) for plural in (
    "pods", "replicationcontrollers", "services", "daemonsets", "deployments", "replicasets",
    "statefulsets", "horizontalpodautoscalers", "cronjobs", "jobs")}
METRICS = "metrics.k8s.io/v1beta1"


def _page(items: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, Any]] | None:
    """`limit` and `continue` as kube-apiserver pages a list; None for a bad token."""
    metadata: dict[str, Any] = {"resourceVersion": "12345"}
    offset = 0
    if query.get("continue"):
        try:
            offset = int(base64.b64decode(query["continue"], validate=True).decode())
        except ValueError:
            return None
    limit = int(query.get("limit") or 0)
    if limit <= 0:
        return items[offset:], metadata
    page, rest = items[offset:offset + limit], len(items) - offset - limit
    if rest > 0:
        metadata["continue"] = base64.b64encode(str(offset + limit).encode()).decode()
        metadata["remainingItemCount"] = rest
    return page, metadata


def _waiting_reason(pod: dict[str, Any], container: str) -> str:
    """Why a container has not started ("" once it has), as the kubelet says it."""
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (
        status.get("initContainerStatuses") or [])
    found = next((s for s in statuses if s.get("name") == container), None)
    if found is None:
        return "ContainerCreating"
    waiting = (found.get("state") or {}).get("waiting")
    return (waiting.get("reason") or "ContainerCreating") if waiting is not None else ""


def _log_options_problem(query: dict[str, str]) -> str | None:
    """What kube-apiserver refuses in a log request's options (tailLines, limitBytes)."""
    problems = []
    if query.get("tailLines") and int(query["tailLines"]) < 0:
        problems.append(f"tailLines: Invalid value: {query['tailLines']}: must be greater "
                        "than or equal to 0")
    if query.get("limitBytes") and int(query["limitBytes"]) < 1:
        problems.append(f"limitBytes: Invalid value: {query['limitBytes']}: must be greater "
                        "than 0")
    return ", ".join(problems) or None


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details, "code": code}


def write_kubeconfig(path: Path, contexts: dict[str, tuple[FakeKubernetes, str]], *,
                     token: str = TOKEN, current: str | None = None) -> Path:
    """A kubeconfig whose contexts (name -> (fake API server, namespace)) each reach their
    own fake cluster; the current context is `current`, else the first."""
    ca = base64.b64encode(certificates().ca_pem).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current or next(iter(contexts)),
        "clusters": [{"name": name, "cluster": {"server": fake.url,
                                                "certificate-authority-data": ca}}
                     for name, (fake, _) in contexts.items()],
        "users": [{"name": "bot", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "bot",
                                                "namespace": namespace}}
                     for name, (_, namespace) in contexts.items()]}))
    return path


class FakeKubernetes(FakeHTTPService):
    def __init__(self, fixtures: Iterable[Path] = (FIXTURES / "cluster.yaml",
                                                   FIXTURES / "crds.yaml"),
                 version: str = "1.30.2") -> None:
        self.version = version  # what /version says: the dispatcher on PATH picks its kubectl
        self.resources = dict(RESOURCES)  # and every CRD's, as its fixture is loaded
        self.categories: dict[str, tuple[str, ...]] = dict(CATEGORIES)
        self.printers: dict[str, Any] = {}  # plural -> a CRD's table printer
        self.objects: dict[str, list[dict[str, Any]]] = {plural: [] for plural in RESOURCES}
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self.metrics: dict[str, list[dict[str, Any]]] = {"pods": [], "nodes": []}
        self.forbidden_namespaces: set[str] = set()
        self.denied: set[tuple[str, str, str | None]] = set()  # (verb, resource, namespace)
        self.rules: list[dict[str, Any]] | None = None  # a ClusterRole's: enforced when set
        self.metrics_installed = True
        # plurals answered as a plain List even when a Table is asked for (aggregated APIs,
        # some proxies do): what kubectl then prints is its own default
        self.without_tables: set[str] = set()
        self.delay_paths: dict[str, float] = {}  # path prefix -> seconds before answering
        # aggregated API groups listed in /apis whose server is down (metrics-server): their
        # discovery answers 503, as kube-apiserver's aggregator does
        self.unavailable_groups: set[str] = set()
        self.requests: list[str] = []
        self.in_flight = self.most_in_flight = 0  # requests being answered at once
        self._counting = threading.Lock()
        self.changes: list[tuple[str, str, Any]] = []  # (method, path, body) of writes
        for path in fixtures:
            self.load(path)
        super().__init__(tls=True)  # a real API server speaks only TLS

    def load(self, path: Path) -> None:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            kinds = {kind: plural for plural, (_, kind, _, _) in self.resources.items()}
            if doc["kind"] == "FakePodLogs":
                for entry in doc["logs"]:
                    key = (entry["namespace"], entry["pod"], entry.get("container", ""),
                           bool(entry.get("previous")))
                    self.logs[key] = entry["text"]
            elif doc["kind"] in ("PodMetrics", "NodeMetrics"):
                self.metrics["pods" if doc["kind"] == "PodMetrics" else "nodes"].append(doc)
            else:
                self.objects[kinds[doc["kind"]]].append(doc)
                if doc["kind"] == "Endpoints":
                    self.objects["endpointslices"] += k8s_slices.mirrored(doc)
                if doc["kind"] == "CustomResourceDefinition":
                    self._serve_crd(doc)

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        """Serve a CRD's resource (its storage version) as kube-apiserver does."""
        spec, names = crd["spec"], crd["spec"]["names"]
        version = next(v for v in spec["versions"] if v.get("storage"))
        plural = names["plural"]
        self.resources[plural] = (f"{spec['group']}/{version['name']}", names["kind"],
                                  spec["scope"] == "Namespaced",
                                  tuple(names.get("shortNames") or ()))
        if names.get("categories"):
            self.categories[plural] = tuple(names["categories"])
        self.printers[plural] = k8s_crds.crd_printer(
            version.get("additionalPrinterColumns") or [])
        self.objects.setdefault(plural, [])

    def discovery_requests(self) -> list[str]:
        """The discovery documents asked for so far: /api/v1, /apis, /apis/GROUP/VERSION."""
        return [p for p in self.requests if p in ("/api/v1", "/apis") or (
            p.startswith("/apis/") and p.count("/") == 3)]

    def kubeconfig(self, path: Path, *, token: str = TOKEN, namespace: str = "default") -> Path:
        return write_kubeconfig(path, {"fake": (self, namespace)}, token=token)

    # -- routing -----------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], token: str | None,
               accept: str = "application/json") -> tuple[int, Any, str]:
        if token != TOKEN:
            return 401, _status(401, "Unauthorized", "Unauthorized"), "application/json"
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["openapi"]:
            return k8s_openapi.answer(self, parts)
        if path in k8s_reviews.HEALTH:
            return 200, "ok", "text/plain; charset=utf-8"
        if path == "/version":
            major, minor, _ = self.version.split(".")
            return 200, {"major": major, "minor": minor, "gitVersion": f"v{self.version}",
                         "platform": "linux/amd64"}, "application/json"
        if parts[:1] == ["api"] and len(parts) <= 2:
            return 200, self._discovery(parts), "application/json"
        if parts[:1] == ["apis"] and len(parts) == 3 and parts[1] in self.unavailable_groups:
            return 503, _status(503, "ServiceUnavailable", "the server is currently unable to "
                                "handle the request"), "application/json"
        if parts[:1] == ["apis"] and len(parts) <= 3:
            return 200, self._discovery(parts), "application/json"
        group_version = "v1" if parts[0] == "api" else "/".join(parts[1:3])
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if group_version == METRICS:
            return self._metrics(rest, namespace, query)
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (
            rest[2] if len(rest) > 2 else None)
        if plural not in self.resources or self.resources[plural][0] != group_version:
            return 404, _status(404, "NotFound", "the server could not find the requested "
                                "resource"), "application/json"
        verb = "get" if name else "list"
        checked = f"{plural}/{sub}" if sub else plural  # RBAC names subresources so
        if not k8s_reviews.allowed(self, verb, checked, namespace,
                                   group_version.rpartition("/")[0]):
            return 403, _status(403, "Forbidden", k8s_reviews.denial(
                verb, plural, group_version.rpartition("/")[0], namespace),
                kind=plural), "application/json"
        if sub == "log":
            return self._log(namespace or "", name or "", query)
        status, body, content_type = self._get_or_list(plural, namespace, name, query)
        if status == 200 and "as=PartialObjectMetadata" in accept and "items" not in body:
            return status, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": body.get("metadata", {})}, content_type
        if status == 200 and "as=Table" in accept and plural not in self.without_tables:
            items = body.get("items", [body])
            metadata = body.get("metadata", {}) if "items" in body else {}
            body = k8s_tables.table(self.resources[plural][1], items,
                                    self.printers.get(plural),
                                    query.get("includeObject", "PartialObjectMetadata"))
            body["metadata"] = {**body["metadata"], **metadata}  # a page's continue token
        return status, body, content_type

    def create(self, path: str, body: Any, token: str | None) -> tuple[int, Any, str]:
        """POST: only the review APIs (the bot creates nothing else)."""
        if token != TOKEN:
            return 401, _status(401, "Unauthorized", "Unauthorized"), "application/json"
        parts = path.strip("/").split("/")
        if len(parts) == 4 and not k8s_reviews.allowed(self, "create", parts[3], None, parts[1]):
            return 403, _status(403, "Forbidden", k8s_reviews.denial(
                "create", parts[3], parts[1], None), kind=parts[3]), "application/json"
        answer = k8s_reviews.create(self, path, body)
        if answer is None:
            return 405, _status(405, "MethodNotAllowed", "the server does not allow this "
                                "method on the requested resource"), "application/json"
        self.changes.append(("POST", path, body))
        return answer

    def write(self, method: str, path: str, patch: Any, token: str | None
              ) -> tuple[int, Any, str]:
        """PATCH (a merge patch, also on the /scale subresource) or DELETE one object."""
        if token != TOKEN:
            return 401, _status(401, "Unauthorized", "Unauthorized"), "application/json"
        scale = path.endswith("/scale")
        refused = self._write_refused(method, path)
        if refused is not None:
            return refused
        status, obj, content_type = self.answer(path.removesuffix("/scale"), {}, token)
        if status != 200:
            return status, obj, content_type
        self.changes.append((method, path, patch))
        if method == "DELETE":
            for items in self.objects.values():
                if obj in items:
                    items.remove(obj)
            return 200, obj, "application/json"
        merge(obj, patch or {})
        if scale:
            return 200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                         "metadata": obj["metadata"],
                         "spec": {"replicas": obj["spec"].get("replicas", 0)},
                         "status": {"replicas": obj["status"].get("replicas", 0)}}, (
                "application/json")
        return 200, obj, "application/json"

    def _write_refused(self, method: str, path: str) -> tuple[int, Any, str] | None:
        """RBAC for a PATCH or DELETE: the verb on the resource (or its `scale`)."""
        parts = path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = rest[1] if rest[:1] == ["namespaces"] else None
        rest = rest[2:] if namespace else rest
        resource = rest[0] + ("/scale" if path.endswith("/scale") else "")
        verb = method.lower()
        if k8s_reviews.allowed(self, verb, resource, namespace, group):
            return None
        return 403, _status(403, "Forbidden", k8s_reviews.denial(verb, resource, group,
                                                                 namespace),
                            kind=rest[0]), "application/json"

    def _get_or_list(self, plural: str, namespace: str | None, name: str | None,
                     query: dict[str, str]) -> tuple[int, Any, str]:
        group_version, kind, namespaced, _ = self.resources[plural]
        items = [o for o in self.objects[plural]
                 if not namespaced or namespace is None
                 or o["metadata"].get("namespace") == namespace]
        if name is not None:
            for obj in items:
                if obj["metadata"]["name"] == name:
                    return 200, obj, "application/json"
            group = group_version.rpartition("/")[0]  # kube-apiserver names the group
            qualified = f"{plural}.{group}" if group else plural
            return 404, _status(404, "NotFound", f'{qualified} "{name}" not found', name=name,
                                kind=plural), "application/json"
        if query.get("labelSelector"):
            items = [o for o in items if labels_match(o["metadata"].get("labels") or {},
                                                       query["labelSelector"])]
        if query.get("fieldSelector"):
            unsupported = unsupported_fields(kind, query["fieldSelector"])
            if unsupported:  # kube-apiserver accepts only the labels each kind registers
                return 400, _status(400, "BadRequest", "field label not supported: "
                                    f"{unsupported}"), "application/json"
            items = [o for o in items if fields_match(o, query["fieldSelector"])]
        page = _page(items, query)
        if page is None:
            return 400, _status(400, "BadRequest", "continue key is not valid: the continue "
                                "token is malformed"), "application/json"
        items, metadata = page
        return 200, {"kind": f"{kind}List", "apiVersion": group_version,
                     "metadata": metadata, "items": items}, "application/json"

    def _log(self, namespace: str, pod: str, query: dict[str, str]) -> tuple[int, Any, str]:
        pods = [p for p in self.objects["pods"] if p["metadata"]["name"] == pod
                and p["metadata"].get("namespace") == namespace]
        if not pods:
            return 404, _status(404, "NotFound", f'pods "{pod}" not found', name=pod,
                                kind="pods"), "application/json"
        containers = [c["name"] for c in pods[0]["spec"]["containers"]]
        inits = [c["name"] for c in pods[0]["spec"].get("initContainers") or []]
        container = query.get("container") or ""
        if not container and len(containers) > 1:
            also = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
            return 400, _status(400, "BadRequest", (
                f"a container name must be specified for pod {pod}, choose one of: "
                f"[{' '.join(containers)}]{also}")), "application/json"
        container = container or containers[0]
        if container not in containers + inits:
            return 400, _status(400, "BadRequest", (
                f"container {container} is not valid for pod {pod}")), "application/json"
        previous = query.get("previous") == "true"
        text = self.logs.get((namespace, pod, container, previous))
        if text is None and previous:
            return 400, _status(400, "BadRequest", (
                f'previous terminated container "{container}" in pod "{pod}" not found')), (
                "application/json")
        if text is None:  # as the kubelet answers: not started yet, or nothing written
            waiting = _waiting_reason(pods[0], container)
            if waiting:
                return 400, _status(400, "BadRequest", (
                    f'container "{container}" in pod "{pod}" is waiting to start: {waiting}')), (
                    "application/json")
            text = ""
        invalid = _log_options_problem(query)
        if invalid:  # kube-apiserver's ValidatePodLogOptions
            return 422, _status(422, "Invalid", f'PodLogOptions "{pod}" is invalid: {invalid}'), (
                "application/json")
        lines = text.splitlines(keepends=True)
        if query.get("timestamps") == "true":  # one second apart, from a fixed start
            lines = [f"2026-11-25T10:00:{i % 60:02d}.{i:09d}Z {line}"
                     for i, line in enumerate(lines)]
        if query.get("tailLines"):
            lines = lines[-int(query["tailLines"]):] if int(query["tailLines"]) else []
        body = "".join(lines)
        if query.get("limitBytes"):
            body = body.encode()[:int(query["limitBytes"])].decode(errors="ignore")
        return 200, body, "text/plain"

    def _metrics(self, rest: list[str], namespace: str | None,
                 query: dict[str, str]) -> tuple[int, Any, str]:
        if not self.metrics_installed:
            return 404, _status(404, "NotFound", "the server could not find the requested "
                                "resource"), "application/json"
        if not k8s_reviews.allowed(self, "list", rest[0], namespace, METRICS.split("/")[0]):
            return 403, _status(403, "Forbidden", k8s_reviews.denial(
                "list", rest[0], METRICS.split("/")[0], namespace), kind=rest[0]), (
                "application/json")
        items = self.metrics.get(rest[0], [])
        if namespace:
            items = [m for m in items if m["metadata"].get("namespace") == namespace]
        if len(rest) > 1:  # one object by name, as metrics-server answers it
            found = next((m for m in items if m["metadata"]["name"] == rest[1]), None)
            if found is None:
                kind = "podmetrics" if rest[0] == "pods" else "nodemetrics"
                return 404, _status(404, "NotFound", f'{kind}.metrics.k8s.io "{rest[1]}" not '
                                    "found"), "application/json"
            return 200, found, "application/json"
        if query.get("labelSelector"):  # metrics-server selects by the object's own labels
            wanted = dict(part.split("=", 1) for part in query["labelSelector"].split(","))
            owner = {(o["metadata"].get("namespace"), o["metadata"]["name"]):
                     o["metadata"].get("labels") or {} for o in self.objects[rest[0]]}
            items = [m for m in items if all(owner.get((m["metadata"].get("namespace"), m[
                "metadata"]["name"]), {}).get(k) == v for k, v in wanted.items())]
        kind = "PodMetricsList" if rest[0] == "pods" else "NodeMetricsList"
        return 200, {"kind": kind, "apiVersion": METRICS, "metadata": {}, "items": items}, (
            "application/json")

    def _discovery(self, parts: list[str]) -> dict[str, Any]:
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if parts == ["apis"]:
            groups = sorted({gv.rpartition("/")[0] for gv, *_ in self.resources.values()
                             if "/" in gv} | ({"metrics.k8s.io"} if self.metrics_installed
                                                else set())
                            | {gv.rpartition("/")[0] for gv in k8s_reviews.REVIEW_RESOURCES})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": self._gv(g), "version":
                                          self._gv(g).split("/")[1]}],
                 "preferredVersion": {"groupVersion": self._gv(g),
                                      "version": self._gv(g).split("/")[1]}} for g in groups]}
        group_version = "v1" if parts[0] == "api" else "/".join(parts[1:3])
        reviews = k8s_reviews.discovery(group_version)
        if reviews is not None:
            return reviews
        if group_version == METRICS:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": METRICS,
                    "resources": [{"name": plural, "singularName": "", "namespaced": plural ==
                                   "pods", "kind": kind, "verbs": ["get", "list"]}
                                  for plural, kind in (("nodes", "NodeMetrics"),
                                                       ("pods", "PodMetrics"))]}
        resources = [{"name": plural, "singularName": kind.lower(), "namespaced": namespaced,
                      "kind": kind, "verbs": ["get", "list", "watch"],
                      **({"shortNames": list(short)} if short else {}),
                      **({"categories": list(self.categories[plural])}
                         if plural in self.categories else {})}
                     for plural, (gv, kind, namespaced, short) in self.resources.items()
                     if gv == group_version]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": resources}

    def _gv(self, group: str) -> str:
        if group == "metrics.k8s.io":
            return METRICS
        for group_version in k8s_reviews.REVIEW_RESOURCES:
            if group_version.startswith(group + "/"):
                return group_version
        return next(gv for gv, *_ in self.resources.values() if gv.startswith(group + "/"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._reply("GET")

            def do_PATCH(self) -> None:
                self._reply("PATCH")

            def do_DELETE(self) -> None:
                self._reply("DELETE")

            def do_POST(self) -> None:
                self._reply("POST")

            def _reply(self, method: str) -> None:
                with fake._counting:
                    fake.in_flight += 1
                    fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
                try:
                    self._answer(method)
                finally:
                    with fake._counting:
                        fake.in_flight -= 1

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                fake.requests.append(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                length = int(self.headers.get("Content-Length") or 0)
                patch = json.loads(self.rfile.read(length)) if length else None
                for prefix, seconds in fake.delay_paths.items():
                    if parts.path.startswith(prefix):
                        time.sleep(seconds)
                if method == "GET":
                    status, body, content_type = fake.answer(
                        parts.path, query, token, self.headers.get("Accept") or "")
                elif method == "POST":
                    status, body, content_type = fake.create(parts.path, patch, token)
                else:
                    status, body, content_type = fake.write(method, parts.path, patch, token)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
