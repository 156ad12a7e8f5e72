"""k8sgpt — find what is broken in a cluster, in k8sgpt's result shape.

With a `k8sgpt` binary on PATH (or config `binary`), runs `k8sgpt analyze --output json`.
Otherwise runs built-in analyzers that mirror k8sgpt's core ones (Pod, Deployment,
ReplicaSet, StatefulSet, Service, Ingress, PersistentVolumeClaim, Node, CronJob, Job,
HorizontalPodAutoscaler) and return the same JSON: provider, errors, status
(OK | ProblemDetected), problems, results[] with kind, name (namespace/name), error[] of
{Text, KubernetesDoc, Sensitive}, details and parentObject. Read-only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bot import kube
from bot.kube import ClusterError
from bot.sdk import ToolContext, ToolError, child_environment

from .analyzers import ANALYZERS, HINTS, Cluster

BINARY_TIMEOUT = 60


def k8sgpt_analyze(namespace: str | None = None, filters: list[str] | None = None,
                   explain: bool = False, *, ctx: ToolContext) -> dict[str, Any]:
    kinds = _kinds(filters)
    binary = ctx.config.get("binary") or shutil.which("k8sgpt")
    if binary:
        return _run_binary(binary, namespace, kinds if filters else None, explain, ctx)
    try:
        api = kube.connect(ctx.config.get("kubeconfig"),
                           read_timeout=ctx.config.get("request_timeout")).api
        cluster = Cluster()
        for plural in sorted({p for kind in kinds for p in ANALYZERS[kind][1]}):
            cluster.objects[plural] = kube.list_objects(api, plural, namespace)
    except ClusterError as exc:
        raise ToolError(str(exc)) from None
    findings = [f for kind in kinds for f in ANALYZERS[kind][0](cluster)]
    if explain:
        for finding in findings:
            finding.details = HINTS[finding.kind]
    return {"provider": "", "errors": None,
            "status": "ProblemDetected" if findings else "OK", "problems": len(findings),
            "results": [f.as_k8sgpt() for f in findings]}


def _kinds(filters: list[str] | None) -> list[str]:
    if not filters:
        return list(ANALYZERS)
    by_lower = {k.lower(): k for k in ANALYZERS}
    unknown = [f for f in filters if f.lower() not in by_lower]
    if unknown:
        raise ToolError(f"Unknown filter(s) {', '.join(unknown)}; available: "
                        f"{', '.join(ANALYZERS)}.")
    return [by_lower[f.lower()] for f in filters]


def _run_binary(binary: str, namespace: str | None, kinds: list[str] | None, explain: bool,
                ctx: ToolContext) -> dict[str, Any]:
    argv = [binary, "analyze", "--output", "json"]
    if namespace:
        argv += ["--namespace", namespace]
    for kind in kinds or []:
        argv += ["--filter", kind]
    if explain:
        argv.append("--explain")
    if ctx.config.get("kubeconfig"):
        argv += ["--kubeconfig", ctx.config["kubeconfig"]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=BINARY_TIMEOUT,
                              env=child_environment(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolError(f"k8sgpt did not finish within {BINARY_TIMEOUT} s.") from None
    except OSError as exc:
        raise ToolError(f"Could not run {binary}: {exc.strerror}.") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no error output"])[0]
        raise ToolError(f"k8sgpt failed (exit code {done.returncode}): {first}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ToolError("k8sgpt printed something that is not JSON.") from None


def get_manifest() -> dict:
    return {"name": "k8sgpt", "version": "1.0.0",
            "description": "Find what is broken in the cluster (k8sgpt-style analysis)",
            "author": "SRE Team", "permissions": ["network"]}


def get_tools() -> list[dict]:
    return [{"schema": {
        "name": "k8sgpt_analyze",
        "description": ("Scan the cluster for problems (crashlooping or unschedulable pods, "
                        "image pull errors, OOM kills, failing readiness, services without "
                        "endpoints, broken ingresses, pending volumes, unhealthy nodes, failed "
                        "jobs, …) and say what is wrong with each object."),
        "parameters": {"type": "object", "properties": {
            "namespace": {"type": "string", "description": "Only this namespace"},
            "filters": {"type": "array", "items": {"type": "string"},
                        "description": "Only these kinds, e.g. [\"Pod\", \"Service\"]"},
            "explain": {"type": "boolean", "description": "Add a remediation hint"}},
            "additionalProperties": False}},
        "handler": k8sgpt_analyze, "timeout": 90}]
