"""Read-only views of plugin state, built from database rows, for every surface to render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.messages import sandbox_label
from bot.plugin_host.contract.protocol import STATUS_ENABLED, STATUS_ERROR, LoadedPlugin, Manifest
from bot.plugin_host.lifecycle.load_state import ReplicaLoad
from bot.plugin_host.lifecycle.versions import stored_plugin
from bot.plugin_host.mcp.checks import display_url
from bot.plugin_host.mcp.review import pending_of, summary
from bot.plugin_host.policy.scopes import NO_SETTINGS, ScopedSettings, settings_of
from bot.store.models import PluginRow
from bot.store.repositories import active_version


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    requires_approval: bool  # what applies: the admins' rule, else the plugin's say
    rule: bool | None = None  # the admins' rule (`/plugin approval`), if they set one


@dataclass(frozen=True)
class VersionInfo:
    version: str
    sha256: str
    installed_by: str
    installed_at: datetime
    active: bool


@dataclass(frozen=True)
class McpInfo:
    """An MCP plugin's server as `info` shows it: never a header's value."""

    transport: str  # http | stdio
    url: str | None  # its query string hidden
    header_names: tuple[str, ...]
    server: str | None  # what the server calls itself, and its version
    last_error: str | None
    pending: str | None = None  # what its changed tool list would change, awaiting review


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str
    enabled: bool
    status: str
    error: str | None
    version: str | None
    description: str
    author: str
    permissions: tuple[str, ...]
    tools: tuple[ToolInfo, ...]
    versions: tuple[VersionInfo, ...]
    sandbox: str = ""  # where its code runs here: in-process, bubblewrap, process, none
    replicas: int = 0  # live `bot run` replicas (0: none is beating)
    loads: tuple[ReplicaLoad, ...] = ()  # what each live replica reported for it
    mcp: McpInfo | None = None  # the server behind an MCP plugin
    channels: tuple[str, ...] | None = None  # where it is offered; None: everywhere
    settings: ScopedSettings = field(default_factory=lambda: NO_SETTINGS)  # `/plugin set` values

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(tool.name for tool in self.tools)

    @property
    def loaded_count(self) -> int:
        """Live replicas running the active version."""
        return sum(1 for load in self.loads
                   if load.error is None and load.version == self.version)

    @property
    def replica_problems(self) -> tuple[ReplicaLoad, ...]:
        """Live replicas that should run it and do not, with why."""
        return tuple(load for load in self.loads if load.error is not None)


def plugin_info(row: PluginRow, sandbox_kind: str | None = None, *,
                loads: tuple[ReplicaLoad, ...] = (), replicas: int = 0,
                problem: str | None = None,
                rules: Mapping[str, bool] | None = None) -> PluginInfo:
    """The row as surfaces show it. `problem`: why it did not load in this process (one
    that is not a replica); `loads`: each live replica's state. A plugin that should be on
    shows as `error` when it loads nowhere it was tried, with the first reason."""
    current = active_version(row)
    manifest = current.manifest if current else {}
    rules = rules or {}
    tools = tuple(ToolInfo(t["name"], t.get("description", ""),
                           rules.get(t["name"], bool(t.get("requires_approval", False))),
                           rules.get(t["name"]))
                  for t in (current.tools if current else []))
    versions = tuple(VersionInfo(v.version, v.sha256, v.installed_by, v.installed_at,
                                 v.version == row.active_version) for v in row.versions)
    status, error = _effective(row, problem, loads, replicas)
    return PluginInfo(name=row.name, source=row.source, enabled=row.enabled, status=status,
                      error=error, version=row.active_version, replicas=replicas, loads=loads,
                      description=manifest.get("description", ""),
                      author=manifest.get("author", ""),
                      permissions=tuple(manifest.get("permissions", ())), tools=tools,
                      versions=versions, mcp=_mcp_info(row),
                      channels=None if row.channels is None else tuple(row.channels),
                      settings=settings_of(row),
                      sandbox=sandbox_label(row.source, sandbox_kind,
                                            row.mcp.transport if row.mcp else None))


def _mcp_info(row: PluginRow) -> McpInfo | None:
    server = row.mcp
    if server is None:
        return None
    label = " ".join(part for part in (server.server_name, server.server_version) if part)
    current = active_version(row)
    reviewed = stored_plugin(current) if current else LoadedPlugin(
        Manifest(name=row.name, version="0"), ())
    pending = pending_of(server.pending_tools, server.pending_version, reviewed)
    return McpInfo(transport=server.transport,
                   url=display_url(server.url) if server.url else None,
                   header_names=tuple(server.header_names or ()), server=label or None,
                   last_error=server.last_error,
                   pending=summary(pending, reviewed) if pending else None)


def _effective(row: PluginRow, problem: str | None, loads: tuple[ReplicaLoad, ...],
               replicas: int) -> tuple[str, str | None]:
    if row.status == STATUS_ERROR:  # an admin's action or the health monitor said why
        return row.status, row.error
    if problem is not None:
        return STATUS_ERROR, problem
    failing = [load.error for load in loads if load.error is not None]
    if row.status == STATUS_ENABLED and failing and len(failing) >= replicas:
        return STATUS_ERROR, failing[0]
    return row.status, row.error
