"""kubectl — read-only Kubernetes access for the agent, through the official client.

One tool, `run_kubectl`, takes a kubectl-style command line (with or without the leading
`kubectl`) and answers like kubectl: `get` of every type the cluster serves (CRDs too; the
API server's Table, -o wide|yaml|json|name|jsonpath=|custom-columns=, --sort-by, -L,
--show-labels, --no-headers), `describe`, `logs` (pods, workloads, -l; the default
container; --all-containers, --prefix, --timestamps), `events` (--for, --types), `top
pods|nodes`, `rollout status|history`, `api-resources`, `auth can-i|whoami [--list]`,
`version`, `explain` (from the cluster's OpenAPI v3).
Anything that changes the cluster, and shell syntax, is refused with a sentence saying so.
Secret values never leave the cluster: Secrets show keys and sizes only.

Config, the operator's (PLUGIN_CONFIG='{"kubectl": {...}}'): `kubeconfig` (default:
KUBECONFIG, ~/.kube/config, then in-cluster), `clusters` (the kubeconfig contexts it may
use; default all), `namespace_allow`, `namespace_deny`, `request_timeout`, and
`allow_writes: true` to add three tools that change the cluster — kubectl_rollout_restart,
kubectl_scale, kubectl_delete_pod — each of which waits for an admin's approval before it
runs. Without it they do not exist.

Settings admins may set from Slack (`/plugin set kubectl key=value [in #chan]`), only ever
narrowing the operator's: `context` (the channel's default cluster), `contexts` (the only
clusters there, within `clusters`), `namespace_allow` (within the operator's) and
`default_namespace` — see bot/kube/clusters.py.
"""

from __future__ import annotations

from bot.kube import ClusterError, clusters as clusters
from bot.sdk import ToolContext, ToolError

from .command import Refused, parse
from .verbs import VERBS, check_scope
from .writes import write_tools


def run_kubectl(command: str, cluster: str | None = None, *, ctx: ToolContext) -> str:
    try:
        parsed = parse(command)
        chosen = clusters.choose(ctx.config, cluster)
        namespace = (parsed.namespace or chosen.cluster.namespace
                     or ctx.config.get("default_namespace") or "default")
        check_scope(chosen.api.limits, namespace, all_namespaces=parsed.all_namespaces)
        return chosen.label(VERBS[parsed.verb](chosen.api, parsed, namespace))
    except (Refused, ClusterError) as exc:
        raise ToolError(str(exc)) from None


def get_manifest() -> dict:
    return {"name": "kubectl", "version": "1.0.0",
            "description": "Read-only kubectl: get (every type, CRDs too), describe, "
                           "logs, events, top, rollout status/history, api-resources, "
                           "auth can-i/whoami, version, explain",
            "author": "SRE Team", "permissions": ["network"],
            "settings": {**clusters.ADMIN_SETTINGS, "default_namespace": {
                "type": "string", "description": "the namespace when a command names none"}}}



def get_tools(config: dict | None = None) -> list[dict]:
    tools = [{"schema": {
        "name": "run_kubectl",
        "description": ("Run a read-only kubectl command against the cluster and get "
                        "kubectl's output, e.g. 'get pods -n prod', 'describe pod web-1 -n "
                        "prod', 'logs checkout-api-7d9f -n prod --previous --tail 50', "
                        "'events -n prod --for pod/web-1', 'top pods -n prod', 'rollout "
                        "status deployment/web -n prod', 'get rollouts -A' (any CRD), 'get "
                        "pods -o jsonpath={.items[*].spec.nodeName}', 'auth can-i list pods "
                        "-n prod'. Changes (delete, apply, scale, exec, …) are refused."),
        "parameters": {"type": "object", "properties": {"command": {
            "type": "string", "description": "The kubectl command line, with or without "
                                             "the leading 'kubectl'", "maxLength": 500}},
            "required": ["command"], "additionalProperties": False}},
        "handler": run_kubectl, "timeout": 45}]
    if (config or {}).get("allow_writes") is True:
        tools += write_tools()  # each one waits for an admin's approval
    return clusters.with_cluster_argument(tools, config or {})
