"""Analyzers that mirror k8sgpt's core ones: each finds problems of one kind of object and
says, for each, what is wrong in one sentence (k8sgpt's result shape)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
DOCS = "https://kubernetes.io/docs/"


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
class Cluster:
    """The objects the analyzers look at, fetched once per analysis."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)

    def of(self, plural: str) -> list[Obj]:
        return self.objects.get(plural, [])

    def find(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        return next((o for o in self.of(plural) if o["metadata"]["name"] == name and (
            namespace is None or o["metadata"].get("namespace") == namespace)), None)

    def events_for(self, obj: Obj) -> list[Obj]:
        name, ns = obj["metadata"]["name"], obj["metadata"].get("namespace")
        events = [e for e in self.of("events") if e["involvedObject"]["name"] == name
                  and e["involvedObject"].get("namespace") == ns]
        return sorted(events, key=lambda e: e.get("lastTimestamp") or "")


def _id(obj: Obj) -> str:
    ns = obj["metadata"].get("namespace")
    return f"{ns}/{obj['metadata']['name']}" if ns else obj["metadata"]["name"]


def _owner(obj: Obj) -> tuple[str, str] | None:
    ref = next((r for r in obj["metadata"].get("ownerReferences", []) if r.get("controller")),
               None)
    return (ref["kind"], ref["name"]) if ref else None


def parent_of(cluster: Cluster, obj: Obj) -> str:
    """The top of the owner chain, as k8sgpt reports it (Deployment/web for a pod)."""
    owner, ns = _owner(obj), obj["metadata"].get("namespace")
    if owner is None:
        return ""
    if owner[0] == "ReplicaSet":
        rs = cluster.find("replicasets", ns, owner[1])
        top = _owner(rs) if rs else None
        if top:
            return f"{top[0]}/{top[1]}"
    return f"{owner[0]}/{owner[1]}"


def pods(cluster: Cluster) -> list[Finding]:
    findings = []
    for pod in cluster.of("pods"):
        texts = _pod_problems(cluster, pod)
        if texts:
            findings.append(Finding("Pod", _id(pod), texts, parent_of(cluster, pod)))
    return findings


def _pod_problems(cluster: Cluster, pod: Obj) -> list[str]:
    name, status, texts = pod["metadata"]["name"], pod.get("status", {}), []
    for condition in status.get("conditions", []):
        if condition["type"] == "PodScheduled" and condition["status"] == "False":
            texts.append(f"Pod {name} cannot be scheduled: {condition.get('message', '')}")
    limits = {c["name"]: c.get("resources", {}).get("limits", {}).get("memory")
              for c in pod["spec"].get("containers", [])}
    for c in status.get("containerStatuses") or []:
        waiting = c.get("state", {}).get("waiting") or {}
        last = c.get("lastState", {}).get("terminated") or {}
        reason = waiting.get("reason")
        if reason == "CrashLoopBackOff":
            texts.append(f"Container {c['name']} of pod {name} is in CrashLoopBackOff: it "
                         f"exited with code {last.get('exitCode', '?')} "
                         f"({last.get('reason', 'unknown reason')}) and has restarted "
                         f"{c.get('restartCount', 0)} times.")
        elif reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
            texts.append(f"Container {c['name']} of pod {name} cannot pull its image "
                         f"{c.get('image', '')}: {waiting.get('message') or reason}.")
        elif reason in ("CreateContainerConfigError", "CreateContainerError"):
            texts.append(f"Container {c['name']} of pod {name} cannot start: "
                         f"{waiting.get('message') or reason}.")
        if last.get("reason") == "OOMKilled":
            limit = limits.get(c["name"])
            texts.append(f"Container {c['name']} of pod {name} was OOMKilled (exit code "
                         f"{last.get('exitCode', 137)})" + (f": it needs more than its {limit} "
                                                             "memory limit." if limit else "."))
        if c.get("state", {}).get("running") and not c.get("ready"):
            probe = next((e["message"] for e in reversed(cluster.events_for(pod))
                          if e.get("reason") == "Unhealthy"), "its readiness probe is failing")
            texts.append(f"Container {c['name']} of pod {name} is running but not ready: "
                         f"{probe}.")
    return texts


def _replicas(kind: str, cluster_plural: str) -> Callable[[Cluster], list[Finding]]:
    def analyze(cluster: Cluster) -> list[Finding]:
        findings = []
        for obj in cluster.of(cluster_plural):
            desired = obj["spec"].get("replicas", 1)
            ready = obj.get("status", {}).get("readyReplicas", 0)
            texts = []
            if ready < desired:
                texts.append(f"{kind} {_id(obj)} has {ready} of {desired} replicas ready.")
            if kind == "StatefulSet" and obj["spec"].get("serviceName") and not cluster.find(
                    "services", obj["metadata"].get("namespace"), obj["spec"]["serviceName"]):
                texts.append(f"StatefulSet {_id(obj)} uses the service "
                             f"{obj['spec']['serviceName']}, which does not exist.")
            if texts:
                findings.append(Finding(kind, _id(obj), texts))
        return findings
    return analyze


def replicasets(cluster: Cluster) -> list[Finding]:
    findings = []
    for rs in cluster.of("replicasets"):
        for c in rs.get("status", {}).get("conditions", []):
            if c["type"] == "ReplicaFailure" and c["status"] == "True":
                findings.append(Finding("ReplicaSet", _id(rs), [
                    f"ReplicaSet {_id(rs)} cannot create pods ({c.get('reason')}): "
                    f"{c.get('message', '')}"], parent_of(cluster, rs)))
    return findings


def _matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def services(cluster: Cluster) -> list[Finding]:
    findings = []
    for svc in cluster.of("services"):
        selector = svc["spec"].get("selector")
        if not selector:
            continue
        ns = svc["metadata"].get("namespace")
        endpoints = cluster.find("endpoints", ns, svc["metadata"]["name"])
        ready = [a for s in (endpoints or {}).get("subsets") or [] for a in
                 s.get("addresses") or []]
        if ready:
            continue
        wanted = ",".join(f"{k}={v}" for k, v in selector.items())
        matching = [p["metadata"]["name"] for p in cluster.of("pods")
                    if p["metadata"].get("namespace") == ns
                    and _matches(p["metadata"].get("labels") or {}, selector)]
        text = (f"Service {_id(svc)} has no ready endpoints: the pods matching {wanted} are "
                f"not ready ({', '.join(matching)})." if matching else
                f"Service {_id(svc)} has no endpoints: no pod matches its selector {wanted}.")
        findings.append(Finding("Service", _id(svc), [text]))
    return findings


def ingresses(cluster: Cluster) -> list[Finding]:
    classes = {c["metadata"]["name"] for c in cluster.of("ingressclasses")}
    findings = []
    for ing in cluster.of("ingresses"):
        ns, texts = ing["metadata"].get("namespace"), []
        ingress_class = ing["spec"].get("ingressClassName") or ing["metadata"].get(
            "annotations", {}).get("kubernetes.io/ingress.class")
        if not ingress_class:
            texts.append(f"Ingress {_id(ing)} names no ingress class.")
        elif ingress_class not in classes:
            texts.append(f"Ingress {_id(ing)} uses the ingress class {ingress_class}, which "
                         "does not exist.")
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path.get("backend", {}).get("service", {}).get("name")
                if backend and not cluster.find("services", ns, backend):
                    texts.append(f"Ingress {_id(ing)} routes {path.get('path', '/')} to the "
                                 f"service {backend}, which does not exist.")
        if texts:
            findings.append(Finding("Ingress", _id(ing), texts))
    return findings


def pvcs(cluster: Cluster) -> list[Finding]:
    findings = []
    for pvc in cluster.of("persistentvolumeclaims"):
        if pvc.get("status", {}).get("phase") != "Pending":
            continue
        event = next((e for e in reversed(cluster.events_for(pvc)) if e.get("type") ==
                      "Warning"), None)
        why = f": {event['message']}" if event else ""
        findings.append(Finding("PersistentVolumeClaim", _id(pvc), [
            f"PersistentVolumeClaim {_id(pvc)} is Pending{why}."]))
    return findings


def nodes(cluster: Cluster) -> list[Finding]:
    findings = []
    for node in cluster.of("nodes"):
        texts = []
        for c in node.get("status", {}).get("conditions", []):
            if c["type"] == "Ready" and c["status"] != "True":
                texts.append(f"Node {node['metadata']['name']} is not ready: "
                             f"{c.get('message') or c.get('reason', '')}.")
            elif c["type"] != "Ready" and c["status"] == "True":
                texts.append(f"Node {node['metadata']['name']} has {c['type']}: "
                             f"{c.get('message') or c.get('reason', '')}.")
        if texts:
            findings.append(Finding("Node", node["metadata"]["name"], texts))
    return findings


CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
               "@hourly"}


def cronjobs(cluster: Cluster) -> list[Finding]:
    findings = []
    for cj in cluster.of("cronjobs"):
        texts = []
        schedule = cj["spec"].get("schedule", "")
        fields = schedule.split()
        if schedule not in CRON_MACROS and (len(fields) != 5 or not all(
                CRON_FIELD.match(f) for f in fields)):
            texts.append(f"CronJob {_id(cj)} has an invalid schedule {schedule!r}.")
        if cj["spec"].get("suspend"):
            texts.append(f"CronJob {_id(cj)} is suspended.")
        owned = [j for j in cluster.of("jobs") if _owner(j) == ("CronJob",
                                                                cj["metadata"]["name"])]
        latest = max(owned, key=lambda j: j["metadata"].get("creationTimestamp", ""),
                     default=None)
        if latest is not None and _failed(latest):
            texts.append(f"CronJob {_id(cj)}: its last run, job {latest['metadata']['name']}, "
                         "failed.")
        if texts:
            findings.append(Finding("CronJob", _id(cj), texts))
    return findings


def _failed(job: Obj) -> dict[str, Any] | None:
    return next((c for c in job.get("status", {}).get("conditions", [])
                 if c["type"] == "Failed" and c["status"] == "True"), None)


def jobs(cluster: Cluster) -> list[Finding]:
    findings = []
    for job in cluster.of("jobs"):
        failed = _failed(job)
        if failed:
            findings.append(Finding("Job", _id(job), [
                f"Job {_id(job)} failed: {failed.get('message', '')} "
                f"({failed.get('reason', '')})."], parent_of(cluster, job)))
    return findings


def hpas(cluster: Cluster) -> list[Finding]:
    plurals = {"Deployment": "deployments", "StatefulSet": "statefulsets",
               "ReplicaSet": "replicasets"}
    findings = []
    for hpa in cluster.of("horizontalpodautoscalers"):
        ref = hpa["spec"]["scaleTargetRef"]
        plural = plurals.get(ref["kind"])
        if plural and not cluster.find(plural, hpa["metadata"].get("namespace"), ref["name"]):
            findings.append(Finding("HorizontalPodAutoscaler", _id(hpa), [
                f"HorizontalPodAutoscaler {_id(hpa)} scales {ref['kind']} {ref['name']}, "
                "which does not exist."]))
    return findings


# kind -> (analyzer, the kinds of objects it needs)
ANALYZERS: dict[str, tuple[Callable[[Cluster], list[Finding]], tuple[str, ...]]] = {
    "Pod": (pods, ("pods", "replicasets", "events")),
    "Deployment": (_replicas("Deployment", "deployments"), ("deployments",)),
    "ReplicaSet": (replicasets, ("replicasets",)),
    "StatefulSet": (_replicas("StatefulSet", "statefulsets"), ("statefulsets", "services")),
    "Service": (services, ("services", "endpoints", "pods")),
    "Ingress": (ingresses, ("ingresses", "ingressclasses", "services")),
    "PersistentVolumeClaim": (pvcs, ("persistentvolumeclaims", "events")),
    "Node": (nodes, ("nodes",)),
    "CronJob": (cronjobs, ("cronjobs", "jobs")),
    "Job": (jobs, ("jobs",)),
    "HorizontalPodAutoscaler": (hpas, ("horizontalpodautoscalers", "deployments",
                                       "statefulsets", "replicasets")),
}

HINTS = {
    "Pod": "Check `kubectl describe pod` and the previous container's logs; fix the image, "
           "probe, resources or configuration named above.",
    "Deployment": "Look at the deployment's pods: their problems are listed under Pod.",
    "ReplicaSet": "Fix what blocks pod creation (quota, admission, service account).",
    "StatefulSet": "Check the pods and the headless service the StatefulSet names.",
    "Service": "Make the selector match ready pods, or fix why those pods are not ready.",
    "Ingress": "Create the missing service or ingress class, or correct the names.",
    "PersistentVolumeClaim": "Check the storage class and the provisioner's events.",
    "Node": "Check the kubelet and container runtime on the node; drain it if needed.",
    "CronJob": "Fix the schedule, resume it, or look at the failed job's pods.",
    "Job": "Look at the job's pods and logs for why they exit non-zero.",
    "HorizontalPodAutoscaler": "Point scaleTargetRef at an existing workload.",
}
