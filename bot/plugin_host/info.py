"""Read-only views of plugin state, built from database rows, for every surface to render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.messages import sandbox_label
from bot.store.models import PluginRow
from bot.store.repositories import active_version


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    requires_approval: bool


@dataclass(frozen=True)
class VersionInfo:
    version: str
    sha256: str
    installed_by: str
    installed_at: datetime
    active: bool


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

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(tool.name for tool in self.tools)


def plugin_info(row: PluginRow, sandbox_kind: str | None = None) -> PluginInfo:
    current = active_version(row)
    manifest = current.manifest if current else {}
    tools = tuple(ToolInfo(t["name"], t.get("description", ""),
                           bool(t.get("requires_approval", False)))
                  for t in (current.tools if current else []))
    versions = tuple(VersionInfo(v.version, v.sha256, v.installed_by, v.installed_at,
                                 v.version == row.active_version) for v in row.versions)
    return PluginInfo(name=row.name, source=row.source, enabled=row.enabled, status=row.status,
                      error=row.error, version=row.active_version,
                      description=manifest.get("description", ""),
                      author=manifest.get("author", ""),
                      permissions=tuple(manifest.get("permissions", ())), tools=tools,
                      versions=versions, sandbox=sandbox_label(row.source, sandbox_kind))
