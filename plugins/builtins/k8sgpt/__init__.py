"""k8sgpt — find what is broken in a cluster, in k8sgpt's result shape.

With a `k8sgpt` binary on PATH (or config `binary`), runs `k8sgpt analyze --output json`
with a minimal environment. Otherwise runs built-in analyzers that follow k8sgpt's own
(pkg/analyzer in k8sgpt-ai/k8sgpt): its core ones by default (Pod, DaemonSet, Deployment,
ReplicaSet, PersistentVolumeClaim, Service, Ingress, StatefulSet, Job, CronJob, Node,
ValidatingWebhookConfiguration, MutatingWebhookConfiguration, ConfigMap) and its additional
ones by filter (HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, Log,
GatewayClass, Gateway, HTTPRoute, Storage, Security), with k8sgpt's conditions and texts, and
three checks of ours. Each analyzer runs on its own: one that cannot list its objects is an
entry in `errors` and the others still report. The JSON is k8sgpt's: provider, errors,
status (OK | ProblemDetected), problems (the number of failure texts), results[] with kind,
name, error[] of {Text, KubernetesDoc, Sensitive}, details and parentObject. Read-only.

Config, the operator's: `kubeconfig`, `clusters`, `namespace_allow`, `namespace_deny`,
`request_timeout`, `binary`, `concurrency` (lists at once; 8). Admins may set `context`,
`contexts` and `namespace_allow` per channel, only narrowing the operator's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bot import kube
from bot.kube import clusters as clusters
from bot.kube.names import check_namespace
from bot.sdk import ToolContext, ToolError, child_environment

from .runner import analyze, choose, incident_order, layout, summary

BINARY_TIMEOUT = 60
CONCURRENCY = 8


def k8sgpt_analyze(namespace: str | None = None, filters: list[str] | None = None,
                   explain: bool = False, cluster: str | None = None, *,
                   ctx: ToolContext) -> str:
    """The report as JSON laid out one finding per line (runner.layout)."""
    return layout(_analysis(namespace, filters, explain, cluster, ctx))


def _analysis(namespace: str | None, filters: list[str] | None, explain: bool,
              cluster: str | None, ctx: ToolContext) -> dict[str, Any]:
    limits = kube.NamespaceLimits.from_config(ctx.config)
    try:
        context, several = clusters.pick(ctx.config, cluster)
        if namespace is not None:
            limits.check(check_namespace(namespace))
    except kube.ClusterError as exc:
        raise ToolError(str(exc)) from None
    labelled = {"cluster": context} if several else {}
    binary = ctx.config.get("binary") or shutil.which("k8sgpt")
    if binary:
        found = _within(_run_binary(binary, namespace, filters, explain, ctx,
                                    context if several else None), limits)
        if isinstance(found.get("results"), list):
            found["results"] = incident_order(found["results"])
            found["summary"] = summary(found["results"])
        return labelled | found
    names, errors = choose(filters)
    try:
        api = clusters.reach(ctx.config, context, several).api
        result = analyze(api, names, namespace,
                         concurrency=int(ctx.config.get("concurrency", CONCURRENCY)),
                         explain=explain)
    except kube.ClusterError as exc:  # unreachable, or no kubeconfig: nothing to analyse
        raise ToolError(str(exc)) from None
    if errors:
        result["errors"] = errors + (result["errors"] or [])
    return labelled | result


def _run_binary(binary: str, namespace: str | None, kinds: list[str] | None, explain: bool,
                ctx: ToolContext, context: str | None) -> dict[str, Any]:
    """The real k8sgpt, when installed: it sees none of the bot's secrets."""
    argv = [binary, "analyze", "--output", "json"]
    if namespace:
        argv += ["--namespace", namespace]
    for kind in kinds or []:
        argv += ["--filter", kind]
    if explain:
        argv.append("--explain")
    if ctx.config.get("kubeconfig"):
        argv += ["--kubeconfig", ctx.config["kubeconfig"]]
    if context:
        argv += ["--kubecontext", context]
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


def _within(result: dict[str, Any], limits: kube.NamespaceLimits) -> dict[str, Any]:
    """The binary's findings without those in namespaces off limits (it knows no limits:
    its results name namespaced objects `namespace/name`)."""
    if not limits.restricted or not isinstance(result.get("results"), list):
        return result
    kept = [r for r in result["results"] if not isinstance(r, dict)
            or "/" not in str(r.get("name", ""))
            or limits.permits(str(r["name"]).split("/", 1)[0])]
    problems = sum(len(r.get("error") or []) for r in kept if isinstance(r, dict))
    return {**result, "results": kept, "problems": problems,
            "status": "ProblemDetected" if problems else "OK"}


def get_manifest() -> dict:
    return {"name": "k8sgpt", "version": "1.0.0",
            "description": "Find what is broken in the cluster (k8sgpt-style analysis)",
            "author": "SRE Team", "permissions": ["network"],
            "settings": clusters.ADMIN_SETTINGS}


def get_tools(config: dict | None = None) -> list[dict]:
    return clusters.with_cluster_argument([{"schema": {
        "name": "k8sgpt_analyze",
        "description": (
            "Scan the cluster for problems with k8sgpt's analyzers and say what is wrong with "
            "each object. Core (default): Pod, DaemonSet, Deployment, ReplicaSet, "
            "PersistentVolumeClaim, Service, Ingress, StatefulSet, Job, CronJob, Node, "
            "ValidatingWebhookConfiguration, MutatingWebhookConfiguration, ConfigMap. "
            "Additional (by filter): HorizontalPodAutoscaler, PodDisruptionBudget, "
            "NetworkPolicy, Log, GatewayClass, Gateway, HTTPRoute, Storage, Security. Beyond "
            "k8sgpt, ours: a container OOMKilled and running again, a ReplicaSet failing to "
            "create some of its pods, a CronJob whose last job failed. An analyzer that "
            "cannot read its objects is listed in `errors`; the rest still report."),
        "parameters": {"type": "object", "properties": {
            "namespace": {"type": "string", "description": "Only this namespace"},
            "filters": {"type": "array", "items": {"type": "string"},
                        "description": "Only these analyzers, e.g. [\"Pod\", \"Service\"]"},
            "explain": {"type": "boolean", "description": "Add a remediation hint"}},
            "additionalProperties": False}},
        "handler": k8sgpt_analyze, "timeout": 90}], config or {})
