"""Version rules for plugins: pure functions of database rows."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from bot import messages
from bot.errors import ConflictError, NotFoundError
from bot.plugin_host.contract.loader import content_sha256
from bot.plugin_host.contract.protocol import (
    STATUS_DISABLED,
    LoadedPlugin,
    Manifest,
    PluginSource,
    ToolSpec,
)
from bot.plugin_host.lifecycle.discovery import BUILTINS
from bot.plugin_host.runtime.active import ActivePlugin
from bot.store.models import PluginRow, PluginVersionRow
from bot.store.repositories import active_version


def new_plugin_row(name: str, source: PluginSource, *, enabled: bool) -> PluginRow:
    """A plugin the database has not seen: no versions yet, not loaded."""
    return PluginRow(name=name, source=source, enabled=enabled, versions=[],
                     status=STATUS_DISABLED, config={}, consecutive_failures=0, mcp=None,
                     channels=None, settings=[])


def record_builtin_version(row: PluginRow, plugin: LoadedPlugin, path: Path) -> None:
    """Make the version row for a builtin match the code on disk."""
    record_version(row, plugin, sha256=content_sha256(path), path=f"{BUILTINS}/{path.name}",
                   installed_by="bot (builtin)")


def record_server_version(row: PluginRow, plugin: LoadedPlugin) -> str:
    """Make the version row for an MCP plugin match what its server offers now; the
    version it is at (the server's own version string)."""
    tools = json.dumps([spec.describe() for spec in plugin.tools], sort_keys=True)
    where = row.mcp.url if row.mcp is not None and row.mcp.url else f"stdio:{row.name}"
    record_version(row, plugin, sha256=hashlib.sha256(tools.encode()).hexdigest(),
                   path=where, installed_by="bot (mcp server)")
    return plugin.manifest.version


def record_version(row: PluginRow, plugin: LoadedPlugin, *, sha256: str, path: str,
                   installed_by: str) -> None:
    """Point `row` at the version of code it runs, recording it (or what changed in it
    without a version bump) first: builtins and MCP servers, whose code is not uploaded."""
    manifest = plugin.manifest
    tools = [spec.describe() for spec in plugin.tools]
    existing = next((v for v in row.versions if v.version == manifest.version), None)
    if existing is None:
        row.versions.append(PluginVersionRow(
            version=manifest.version, sha256=sha256, manifest=manifest.to_dict(), tools=tools,
            path=path, installed_by=installed_by))
    elif existing.sha256 != sha256:
        existing.sha256, existing.manifest, existing.tools = sha256, manifest.to_dict(), tools
        existing.path = path
    row.active_version = manifest.version


def config_digest(config: Mapping[str, Any]) -> str:
    """What an upload's tools were described with: its `PLUGIN_CONFIG` entry, as a digest
    (stored with the version; a different one at open means describing it again)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def record_description(row: PluginRow, active: ActivePlugin) -> None:
    """Keep on `row`'s active version the tools `active` was described again with (an
    upload opened under a `PLUGIN_CONFIG` entry other than its install's), so every
    surface shows what is offered."""
    version = active_version(row)
    if active.described_with is None or version is None or version.version != active.version:
        return
    version.tools = [spec.describe() for spec in active.plugin.tools]
    version.described_with = active.described_with


def mcp_revision(row: PluginRow) -> int:
    """Which `mcp add` an MCP plugin's row is at (0 for any other plugin)."""
    return row.mcp.revision if row.mcp is not None else 0


def removal_refused(row: PluginRow) -> str | None:
    """Why `row` cannot be removed (a builtin; a server the operator configured), or None."""
    if row.source == PluginSource.BUILTIN:
        return messages.builtin_not_removable(row.name)
    if row.mcp is not None and row.mcp.transport == "stdio":
        return messages.mcp_configured_not_removable(row.name)
    return None


def check_new_version(row: PluginRow, version: str, sha256: str) -> None:
    """Refuse an upload that is not a new version of an uploaded plugin."""
    if row.source == PluginSource.MCP:
        raise ConflictError(messages.upload_shadows_mcp(row.name))
    if row.source != PluginSource.UPLOAD:
        raise ConflictError(messages.shadows_builtin(row.name))
    same = next((v for v in row.versions if same_release(v.version, version)), None)
    if same is not None:  # 1.0.1 and 1.0.1.0 are one release (PEP 440)
        raise ConflictError(messages.same_version(row.name, same.version,
                                                  identical=same.sha256 == sha256))


def same_release(a: str, b: str) -> bool:
    """Whether two version strings name the same PEP 440 release (`1.0.1` == `1.0.1.0`)."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def rollback_target(row: PluginRow, version: str | None) -> PluginVersionRow:
    """The version to go back to: the one named, or the one installed before the active."""
    if row.source == PluginSource.BUILTIN:
        raise ConflictError(messages.builtin_no_rollback(row.name))
    if row.source == PluginSource.MCP:
        raise ConflictError(messages.mcp_no_rollback(row.name))
    versions = list(row.versions)
    if version is not None:
        match = next((v for v in versions if same_release(v.version, version)), None)
        if match is None:
            close = difflib.get_close_matches(version, [v.version for v in versions], n=2)
            raise NotFoundError(f"installed version of {row.name}", version, close)
        return match
    index = next((i for i, v in enumerate(versions) if v.version == row.active_version), 0)
    if index == 0:
        raise ConflictError(messages.nothing_to_roll_back(row.name, row.active_version))
    return versions[index - 1]


def stored_plugin(version: PluginVersionRow) -> LoadedPlugin:
    """The validated description stored at install time: no code runs to know the tools."""
    return LoadedPlugin(Manifest.from_dict(version.manifest),
                        tuple(ToolSpec.from_description(t) for t in version.tools))
