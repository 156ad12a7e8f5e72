"""Several clusters for the built-in Kubernetes plugins: a kubeconfig's contexts are the
cluster names.

The plugin config's `clusters` (a list, or names separated by commas) narrows the contexts
the bot may use. A tool's optional `cluster` argument picks one; without it the channel's
`context` setting does (`/plugin set kubectl context=prod-eu in #inc-payments`), else the
kubeconfig's current context. A channel's `contexts` setting restricts it to those. With
more than one cluster to choose from, every result starts with the cluster it came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot import messages
from bot.kube import Api, Cluster, ClusterError, NamespaceLimits, connect
from bot.sdk import config_list

# What admins may set per channel for the Kubernetes plugins (their manifests' `settings`),
# each only narrowing the operator's PLUGIN_CONFIG: everything else there is the operator's.
ADMIN_SETTINGS: dict[str, dict[str, Any]] = {
    "context": {"type": "string", "description": "the channel's default cluster"},
    "contexts": {"type": "list", "within": "clusters",
                 "description": "the only clusters this channel may use"},
    "namespace_allow": {"type": "list", "within": "namespace_allow",
                        "description": "the only namespaces this channel may read"}}


@dataclass(frozen=True)
class Clusters:
    names: tuple[str, ...]  # the contexts the bot may use, in the kubeconfig's order
    current: str | None  # the kubeconfig's current context, when it is one of them

    @property
    def several(self) -> bool:
        return len(self.names) > 1


@dataclass(frozen=True)
class Chosen:
    cluster: Cluster
    name: str | None  # the context (None: in-cluster, or a kubeconfig without names)
    several: bool  # whether there was a choice: then results say which it was
    api: Api  # the cluster's client within this call's namespace limits

    def label(self, text: str) -> str:
        """`text` as a tool result: led by the cluster's name when there was a choice."""
        return f"[cluster {self.name}]\n{text}" if self.several and self.name else text


def available(config: Mapping[str, Any]) -> Clusters:
    """The clusters the plugin config allows: the kubeconfig's contexts, narrowed by
    `clusters`. None at all in a pod with no kubeconfig (the in-cluster config)."""
    path = config.get("kubeconfig") or os.environ.get("KUBECONFIG") or "~/.kube/config"
    first = Path(str(path).split(os.pathsep)[0]).expanduser()
    try:
        stamp = first.stat().st_mtime_ns
    except OSError:
        return Clusters((), None)
    names, current = _contexts(config.get("kubeconfig"), stamp)
    allow = config_list(config.get("clusters"))
    if allow:
        names = tuple(name for name in names if name in allow)
    return Clusters(names, current if current in names else None)


@lru_cache(maxsize=16)
def _contexts(kubeconfig: str | None, stamp: int) -> tuple[tuple[str, ...], str | None]:
    """A kubeconfig's context names and current context (`stamp`: its mtime, so an edit
    is read again)."""
    from kubernetes import config as kube_config

    try:
        contexts, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    except (kube_config.ConfigException, OSError, ValueError, TypeError):
        return (), None
    names = tuple(str(c["name"]) for c in contexts or () if c.get("name"))
    return names, (str(active["name"]) if active and active.get("name") else None)


def cluster_schema(clusters: Clusters) -> dict[str, Any] | None:
    """The `cluster` argument's schema, when there is a choice to make."""
    if not clusters.several:
        return None
    default = f", else {clusters.current}" if clusters.current else ""
    return {"type": "string", "enum": list(clusters.names),
            "description": "Which cluster (kubeconfig context) to ask. Default: the "
                           f"channel's{default}. Say in the answer which one it was."}


def with_cluster_argument(tools: list[dict[str, Any]], config: Mapping[str, Any]
                          ) -> list[dict[str, Any]]:
    """`tools` (get_tools entries) with an optional `cluster` argument, when the config
    allows several clusters."""
    schema = cluster_schema(available(config))
    if schema is None:
        return tools
    for tool in tools:
        tool["schema"]["parameters"].setdefault("properties", {})["cluster"] = schema
    return tools


def pick(config: Mapping[str, Any], requested: str | None = None) -> tuple[str | None, bool]:
    """The context a call goes to — `requested`, else the channel's `context`, else the
    first of its `contexts`, else the kubeconfig's current one — and whether there was a
    choice. ClusterError when it is not a cluster the bot may use, or not one this
    channel is restricted to."""
    clusters = available(config)
    restricted = config_list(config.get("contexts"))
    name = (requested or config.get("context") or (restricted[0] if restricted else None)
            or clusters.current)
    if name is not None and str(name) not in clusters.names:
        raise ClusterError(messages.cluster_unknown(str(name), clusters.names))
    if restricted and name not in restricted:
        raise ClusterError(messages.cluster_not_allowed_here(str(name), restricted))
    return (str(name) if name is not None else None), clusters.several


def choose(config: Mapping[str, Any], requested: str | None = None) -> Chosen:
    """`pick`'s cluster, connected."""
    return reach(config, *pick(config, requested))


def reach(config: Mapping[str, Any], name: str | None, several: bool) -> Chosen:
    """The client for context `name`, already picked."""
    target = connect(config.get("kubeconfig"), read_timeout=config.get("request_timeout"),
                     context=name)
    return Chosen(target, name, several, target.api(NamespaceLimits.from_config(config)))
