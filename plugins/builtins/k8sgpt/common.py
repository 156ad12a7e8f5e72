"""What the analyzers share: a result in k8sgpt's shape, the snapshot of the cluster they
read, and k8sgpt's helpers (pkg/util/util.go: GetParent, FetchLatestEvent)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class Finding:
    kind: str
    name: str  # namespace/name, or name for cluster-scoped objects
    texts: list[str]
    parent: str = ""
    details: str = ""

    def as_k8sgpt(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name,
                "error": [{"Text": t, "KubernetesDoc": "", "Sensitive": []} for t in self.texts],
                "details": self.details, "parentObject": self.parent}


@dataclass
class Snapshot:
    """The objects the analyzers read, listed once per analysis (in the analysed namespace,
    or cluster-wide for cluster-scoped kinds), and what could not be listed."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # kinds that could not be listed
    why: dict[str, str] = field(default_factory=dict)  # kind -> why it could not be read
    # kinds an analyzer needed and could not read, since the runner last cleared it: the
    # runner turns them into an `errors` entry ("not verified"), never a silent drop
    touched: set[str] = field(default_factory=set)
    # (pod, container, previous) requests -> each log's text, or the error reading it
    logs: Callable[[list[tuple[Obj, str, bool]]], list[str | Exception]] = \
        lambda requests: [Exception("no logs") for _ in requests]

    def of(self, plural: str) -> list[Obj]:
        self.knows(plural)
        return self.objects.get(plural, [])

    def knows(self, plural: str) -> bool:
        """Whether `plural` could be read; when not, the analyzer asking is told it cannot
        verify what depends on it (and it is noted for the `errors` entry)."""
        if plural in self.failed:
            self.touched.add(plural)
            return False
        return True

    def blind(self, plural: str, why: str) -> None:
        """A kind the bot may not read (RBAC), or could not."""
        self.failed.add(plural)
        self.why.setdefault(plural, why)

    def find(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        return next((o for o in self.of(plural) if o["metadata"]["name"] == name and (
            namespace is None or o["metadata"].get("namespace") == namespace)), None)

    def in_namespace(self, plural: str, namespace: str | None) -> list[Obj]:
        return [o for o in self.of(plural) if o["metadata"].get("namespace") == namespace]

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        """One object by name, wherever it is (k8sgpt's Get); None also when it could not
        be read, which `missing` tells apart."""
        self.knows(plural)
        return self.find(plural, namespace, name)

    def missing(self, plural: str, namespace: str | None, name: str) -> bool:
        """Known not to exist: a kind the bot could not read proves nothing (k8sgpt would
        report a Forbidden lookup as a missing object)."""
        found = self.get(plural, namespace, name)
        return self.knows(plural) and found is None

    def select(self, plural: str, namespace: str | None, labels: dict[str, str]) -> list[Obj]:
        """The objects in `namespace` whose labels include `labels` (a label selector)."""
        return [o for o in self.in_namespace(plural, namespace)
                if matches(o["metadata"].get("labels") or {}, labels)]


def ident(obj: Obj) -> str:
    ns = obj["metadata"].get("namespace")
    return f"{ns}/{obj['metadata']['name']}" if ns else obj["metadata"]["name"]


def latest_event(snapshot: Snapshot, namespace: str | None, name: str) -> Obj | None:
    """FetchLatestEvent: the event about `name` (any kind) with the latest lastTimestamp,
    the first listed when none is later."""
    latest = None
    for event in snapshot.in_namespace("events", namespace):
        if event.get("involvedObject", {}).get("name") != name:
            continue
        if latest is None or (event.get("lastTimestamp") or "") > (
                latest.get("lastTimestamp") or ""):
            latest = event
    return latest


PARENT_KINDS = {"ReplicaSet": ("replicasets", "ReplicaSet"),
                "Deployment": ("deployments", "Deployment"),
                "StatefulSet": ("statefulsets", "StatefulSet"),
                "DaemonSet": ("daemonsets", "DaemonSet"), "Ingress": ("ingresses", "Ingress"),
                "MutatingWebhookConfiguration": ("mutatingwebhookconfigurations",
                                                 "MutatingWebhook"),
                "ValidatingWebhookConfiguration": ("validatingwebhookconfigurations",
                                                   "ValidatingWebhook")}


def parent_of(snapshot: Snapshot, obj: Obj) -> str:
    """GetParent: follow the first owner of a kind k8sgpt knows up to the top; "" when the
    chain leaves those kinds or an owner cannot be read."""
    meta = obj["metadata"]
    for owner in meta.get("ownerReferences") or []:
        if owner.get("kind") not in PARENT_KINDS:
            continue
        plural, label = PARENT_KINDS[owner["kind"]]
        namespace = None if "webhook" in plural else meta.get("namespace")
        found = snapshot.find(plural, namespace, owner["name"])
        if found is None:
            snapshot.knows(plural)  # an owner kind it may not read: said in `errors`
            return ""
        if found["metadata"].get("ownerReferences"):
            return parent_of(snapshot, found)
        return f"{label}/{found['metadata']['name']}"
    return ""


def matches(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def go_list(values: Iterable[str]) -> str:
    """A Go []string as %v prints it."""
    return "[" + " ".join(values) + "]"
