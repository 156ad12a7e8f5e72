"""Write tools, registered only when the config allows them (`allow_writes: true`), and
always behind a human approval: rollout restart, scale, delete pod."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import kube
from bot.kube import ClusterError, clusters as clusters
from bot.kube.names import api_path, check_name, check_namespace, object_path
from bot.sdk import ToolContext, ToolError

WORKLOADS = {"deployment": "deployments", "statefulset": "statefulsets",
             "daemonset": "daemonsets"}


def _target(ctx: ToolContext, name: str, namespace: str, cluster: str | None, *,
            plural: str) -> clusters.Chosen:
    """The cluster to change, once the name and namespace passed their rules and the
    limits: nothing is asked of any cluster before."""
    check_name(name, plural=plural)
    check_namespace(namespace)
    chosen = clusters.choose(ctx.config, cluster)
    chosen.api.limits.check(namespace)
    return chosen


def rollout_restart(kind: str, name: str, namespace: str, cluster: str | None = None, *,
                    ctx: ToolContext) -> str:
    try:
        chosen = _target(ctx, name, namespace, cluster, plural=WORKLOADS[kind])
        res = kube.resource(chosen.api, WORKLOADS[kind])
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        kube.request(chosen.api, object_path(res, name, namespace), method="PATCH",
                     what=f"restarting {kind} {name} in namespace {namespace}",
                     body={"spec": {"template": {"metadata": {"annotations": {
                         "kubectl.kubernetes.io/restartedAt": stamp}}}}})
    except ClusterError as exc:
        raise ToolError(str(exc)) from None
    return chosen.label(f"{res.name_prefix}/{name} restarted")


def scale(kind: str, name: str, namespace: str, replicas: int, cluster: str | None = None,
          *, ctx: ToolContext) -> str:
    try:
        chosen = _target(ctx, name, namespace, cluster, plural=WORKLOADS[kind])
        res = kube.resource(chosen.api, WORKLOADS[kind])
        kube.request(chosen.api, object_path(res, name, namespace, sub="scale"),
                     method="PATCH", body={"spec": {"replicas": replicas}},
                     what=f"scaling {kind} {name} in namespace {namespace}")
    except ClusterError as exc:
        raise ToolError(str(exc)) from None
    return chosen.label(f"{res.name_prefix}/{name} scaled to {replicas}")


def delete_pod(name: str, namespace: str, cluster: str | None = None, *,
               ctx: ToolContext) -> str:
    try:
        chosen = _target(ctx, name, namespace, cluster, plural="pods")
        path = api_path("/api/v1", "pods", namespace=namespace, name=name)
        kube.request(chosen.api, path, method="DELETE",
                     what=f"deleting pod {name} in namespace {namespace}")
    except ClusterError as exc:
        raise ToolError(str(exc)) from None
    return chosen.label(f'pod "{name}" deleted')


_NAME = {"type": "string", "minLength": 1, "maxLength": 253,
         "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
_NAMESPACE = {"type": "string", "minLength": 1, "maxLength": 63,
              "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}


def write_tools() -> list[dict[str, Any]]:
    workload = {"type": "string", "enum": sorted(WORKLOADS)}
    return [
        {"schema": {"name": "kubectl_rollout_restart",
                    "description": "Restart a deployment, statefulset or daemonset (rolling). "
                                   "Needs an admin's approval.",
                    "parameters": {"type": "object", "properties": {
                        "kind": workload, "name": _NAME, "namespace": _NAMESPACE},
                        "required": ["kind", "name", "namespace"],
                        "additionalProperties": False}},
         "handler": rollout_restart, "requires_approval": True, "writes": True, "timeout": 30},
        {"schema": {"name": "kubectl_scale",
                    "description": "Set the replica count of a deployment or statefulset. "
                                   "Needs an admin's approval.",
                    "parameters": {"type": "object", "properties": {
                        "kind": {"type": "string", "enum": ["deployment", "statefulset"]},
                        "name": _NAME, "namespace": _NAMESPACE,
                        "replicas": {"type": "integer", "minimum": 0, "maximum": 1000}},
                        "required": ["kind", "name", "namespace", "replicas"],
                        "additionalProperties": False}},
         "handler": scale, "requires_approval": True, "writes": True, "timeout": 30},
        {"schema": {"name": "kubectl_delete_pod",
                    "description": "Delete one pod (its controller recreates it). Needs an "
                                   "admin's approval.",
                    "parameters": {"type": "object", "properties": {
                        "name": _NAME, "namespace": _NAMESPACE},
                        "required": ["name", "namespace"], "additionalProperties": False}},
         "handler": delete_pod, "requires_approval": True, "writes": True, "timeout": 30},
    ]
