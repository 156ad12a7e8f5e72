"""Running k8sgpt's analyzers as k8sgpt runs them (pkg/analysis/analysis.go): each on its
own, so one that cannot list its objects becomes an entry in `errors` ("[Ingress] …") and
the others still report; core analyzers by default, additional ones by filter.

What the analyzers read is listed once, concurrently (bounded), before any runs; lookups
outside the analysed namespace (a webhook's service) are read when asked for."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import kube
from bot.kube.names import object_path

from . import audits, network, resources, workloads
from .common import Finding, Obj, Snapshot

GATEWAY_API = "gateway.networking.k8s.io/v1"
SECRETS = "secrets"  # read one by name, as metadata only, when an analyzer asks
METADATA_ONLY = ("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,"
                 "application/json")


@dataclass(frozen=True)
class Analyzer:
    run: Callable[[Snapshot], list[Finding]]
    lists: tuple[str, ...]  # its own kinds: one it cannot list is its error
    reads: tuple[str, ...] = ()  # what it looks things up in; unreadable reads as absent
    core: bool = True
    api: str = ""  # an API that may not be installed, named when it is not (Gateway API)


OWNERS = ("replicasets", "deployments", "statefulsets", "daemonsets")
ANALYZERS: dict[str, Analyzer] = {
    "Pod": Analyzer(workloads.pods, ("pods",), ("events", *OWNERS)),
    "DaemonSet": Analyzer(workloads.daemonsets, ("daemonsets",), ("secrets",)),
    "Deployment": Analyzer(workloads.deployments, ("deployments",)),
    "ReplicaSet": Analyzer(workloads.replicasets, ("replicasets",), ("deployments",)),
    "PersistentVolumeClaim": Analyzer(resources.pvcs, ("persistentvolumeclaims",),
                                      ("events",)),
    "Service": Analyzer(network.services, ("endpoints", "events"), ("services",)),
    "Ingress": Analyzer(network.ingresses, ("ingresses",),
                        ("ingressclasses", "services", "secrets")),
    "StatefulSet": Analyzer(workloads.statefulsets, ("statefulsets",),
                            ("services", "storageclasses", "pods", "events")),
    "Job": Analyzer(workloads.jobs, ("jobs",), ("events",)),
    "CronJob": Analyzer(workloads.cronjobs, ("cronjobs",), ("jobs",)),
    "Node": Analyzer(resources.nodes, ("nodes",)),
    "ValidatingWebhookConfiguration": Analyzer(
        network.validating_webhooks, ("validatingwebhookconfigurations",), ("services", "pods")),
    "MutatingWebhookConfiguration": Analyzer(
        network.mutating_webhooks, ("mutatingwebhookconfigurations",), ("services", "pods")),
    "ConfigMap": Analyzer(resources.config_maps, ("configmaps", "pods")),
    "HorizontalPodAutoscaler": Analyzer(
        resources.hpas, ("horizontalpodautoscalers",),
        ("deployments", "replicationcontrollers", "replicasets", "statefulsets"), core=False),
    "PodDisruptionBudget": Analyzer(resources.pdbs, ("poddisruptionbudgets",), core=False),
    "NetworkPolicy": Analyzer(network.network_policies, ("networkpolicies",), ("pods",),
                              core=False),
    "Log": Analyzer(audits.logs, ("pods",), OWNERS, core=False),
    "GatewayClass": Analyzer(network.gateway_classes, ("gatewayclasses",), core=False,
                             api=GATEWAY_API),
    "Gateway": Analyzer(network.gateways, ("gateways",), ("gatewayclasses",), core=False,
                        api=GATEWAY_API),
    "HTTPRoute": Analyzer(network.http_routes, ("httproutes",), ("gateways", "services"),
                          core=False, api=GATEWAY_API),
    "Storage": Analyzer(resources.storage, ("storageclasses", "persistentvolumes",
                                            "persistentvolumeclaims"), core=False),
    "Security": Analyzer(audits.security, ("serviceaccounts", "rolebindings", "pods"),
                         ("roles",), core=False),
}


@dataclass
class LiveSnapshot(Snapshot):
    """The listed objects, and reads of anything outside them (another namespace)."""

    api: kube.Api | None = None
    scope: str | None = None  # the analysed namespace; None for all
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[tuple[str, str | None, str], Any] = field(default_factory=dict)
    unknown: set[tuple[str, str | None, str]] = field(default_factory=set)  # reads that failed

    def _listed(self, plural: str, namespace: str | None) -> bool:
        return plural in self.objects and (self.scope is None or namespace in (None,
                                                                               self.scope))

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        if not self.knows(plural):  # forbidden: asking again would not tell more
            return None
        if plural == SECRETS and self.api is not None:
            return self._secret(namespace, name)
        if self._listed(plural, namespace) or self.api is None:
            return self.find(plural, namespace, name)
        found = self._read(plural, namespace, f"name={name}")
        return next((o for o in found if o["metadata"]["name"] == name), None)

    def select(self, plural: str, namespace: str | None, labels: dict[str, str]) -> list[Obj]:
        if not self.knows(plural):
            return []
        if self._listed(plural, namespace) or self.api is None:
            return super().select(plural, namespace, labels)
        return self._read(plural, namespace, ",".join(f"{k}={v}" for k, v in
                                                     sorted(labels.items())), labels=True)

    def missing(self, plural: str, namespace: str | None, name: str) -> bool:
        found = self.get(plural, namespace, name)
        return found is None and self.knows(plural) and (
            plural, namespace, f"name={name}") not in self.unknown

    def _secret(self, namespace: str | None, name: str) -> Obj | None:
        """A Secret's metadata by name (a `get`, as metadata only: Secrets are never
        listed, and their data never read); None when there is none or it may not be read
        (then `knows` says so)."""
        key = (SECRETS, namespace, f"name={name}")
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        found: Obj | None = None
        try:
            res = kube.resource(self.api, SECRETS)  # type: ignore[arg-type]
            found = kube.request(self.api, object_path(res, name, namespace),  # type: ignore[arg-type]
                                 accept=METADATA_ONLY, what=f"getting secret {name}")
        except kube.ClusterUnreachable:
            raise
        except kube.ClusterError as exc:
            if exc.status != 404:
                with self.lock:
                    self.unknown.add(key)
                self.blind(SECRETS, exc.reason or str(exc))
                self.knows(SECRETS)
        with self.lock:
            self.cache[key] = found
        return found

    def _read(self, plural: str, namespace: str | None, selector: str, *,
              labels: bool = False) -> list[Obj]:
        key = (plural, namespace, selector)
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        query = {"labelSelector": selector} if labels else {
            "fieldSelector": f"metadata.{selector}"}
        try:
            found = kube.list_objects(self.api, plural, namespace, query=query)  # type: ignore[arg-type]
        except kube.ClusterUnreachable:
            raise
        except kube.ClusterError as exc:
            found = []
            with self.lock:
                self.unknown.add(key)
            self.blind(plural, exc.reason or str(exc))
            self.knows(plural)  # the analyzer asking is told
        with self.lock:
            self.cache[key] = found
        return found
