"""Turn a plugin row into running code: a builtin imported in-process, an upload bound to
its sandboxed host, an MCP plugin connected to its server. The manager decides *when*;
this knows *how*."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import messages
from bot.errors import PluginError
from bot.plugin_host.contract.protocol import LoadedPlugin, Manifest, PluginSource
from bot.plugin_host.lifecycle.discovery import BUILTINS, discover
from bot.plugin_host.lifecycle.versions import config_digest, mcp_revision, stored_plugin
from bot.plugin_host.mcp.connect import McpHosts, ToolsChanged
from bot.plugin_host.runtime.active import ActivePlugin
from bot.plugin_host.runtime.in_process import InProcessHost, PluginHost
from bot.plugin_host.uploads.stored_archives import ArchiveStore
from bot.store.models import PluginRow
from bot.store.repositories import active_version

log = logging.getLogger(__name__)
UploadHostFactory = Callable[[Manifest, Path, int | None], PluginHost]  # uid: the plugin's


class PluginOpener:
    def __init__(self, *, plugins_dir: Path, executor: Executor | None,
                 upload_hosts: UploadHostFactory | None,
                 config_defaults: Mapping[str, Mapping[str, Any]],
                 archives: ArchiveStore | None = None,
                 mcp_hosts: McpHosts | None = None,
                 on_tools: ToolsChanged | None = None) -> None:
        self.plugins_dir = plugins_dir
        self.mcp_hosts = mcp_hosts
        self.on_tools = on_tools  # an MCP server listed its tools (the manager holds them)
        self.archives = archives  # where a version whose files are not here comes from
        self.executor = executor
        self.upload_hosts = upload_hosts
        self.config_defaults = config_defaults

    def config(self, row: PluginRow) -> dict[str, Any]:
        """A plugin's config: PLUGIN_CONFIG's entry, the operator's, which nothing stored
        overrides (admins' settings narrow it per call: scopes.config_in)."""
        return dict(self.config_defaults.get(row.name, {}))

    def operator_config(self, name: str) -> Mapping[str, Any]:
        return self.config_defaults.get(name, {})

    async def load_builtin(self, name: str, path: Path) -> ActivePlugin | PluginError:
        host = InProcessHost(path, name=name, executor=self.executor,
                             config=self.config_defaults.get(name))
        try:
            plugin = await host.load()
        except PluginError as exc:
            log.error("builtin plugin %s failed to load: %s", name, exc)
            return exc
        return ActivePlugin(plugin.manifest.version, host, plugin, PluginSource.BUILTIN)

    async def open(self, row: PluginRow, *, lazy: bool = False) -> ActivePlugin:
        """Load the code for `row` (builtin from disk; upload through its host factory;
        an MCP server by connecting to it, or with `lazy` by its stored tools), to be
        offered where `row` says."""
        return self.for_row(await self._open(row, lazy=lazy), row)

    def for_row(self, active: ActivePlugin, row: PluginRow) -> ActivePlugin:
        """`active` with `row`'s settings and where it is offered (scopes.py)."""
        active.config = self.config(row)
        active.place(row)
        return active

    async def _open(self, row: PluginRow, *, lazy: bool) -> ActivePlugin:
        if row.source == PluginSource.MCP:
            return await self.mcp(row, lazy=lazy)
        if row.source == PluginSource.BUILTIN:
            path = discover(self.plugins_dir / BUILTINS).get(row.name)
            if path is None:
                raise PluginError(row.name, [messages.files_missing(f"{BUILTINS}/{row.name}")])
            loaded = await self.load_builtin(row.name, path)
            if isinstance(loaded, PluginError):
                raise loaded
            return loaded
        version = active_version(row)
        if version is None:
            raise PluginError(row.name, ["no installed version is active"])
        return await self.upload(row.name, version.version, version.path,
                                 stored_plugin(version), row,
                                 described_with=version.described_with)

    async def upload(self, name: str, version: str, path: str, plugin: LoadedPlugin,
                     row: PluginRow, *, described_with: str | None) -> ActivePlugin:
        """An uploaded version bound to its sandboxed host; its files are unpacked from the
        database first when this machine has none. `plugin` is its description, made with
        the `PLUGIN_CONFIG` entry whose digest is `described_with`: under another entry
        the worker describes it again now (what `get_tools(config)` returns may differ),
        otherwise the worker starts at the first call."""
        if not (self.plugins_dir / path).exists():
            stored = next((v for v in row.versions if v.version == version), None)
            if self.archives is None or stored is None:
                raise PluginError(name, [messages.files_missing(path)])
            await self.archives.unpack(name, stored)
        if self.upload_hosts is None:
            raise PluginError(name, [messages.no_sandbox_for_uploads()])
        host = self.upload_hosts(plugin.manifest, self.plugins_dir / path, row.sandbox_uid)
        config = self.config(row)
        digest = config_digest(config)
        if described_with == digest:
            return ActivePlugin(version, host, plugin, PluginSource.UPLOAD, config)
        fresh = await describe_again(host, plugin)
        return ActivePlugin(version, host, fresh, PluginSource.UPLOAD, config,
                            described_with=digest)


    async def mcp(self, row: PluginRow, *, lazy: bool = False) -> ActivePlugin:
        """An MCP plugin's server, offering the tools an admin reviewed (its active
        version). Before any was: an operator's local server (MCP_SERVERS) offers its
        first list, which becomes the baseline (the operator chose the program); an
        admin's remote one offers none until its list is accepted. Not `lazy`: connected
        first (PluginError: why not), and what it lists now is held against the reviewed
        tools (PluginManager._tools_listed). `lazy` (start-up, another replica's change):
        the first call connects."""
        if self.mcp_hosts is None:
            raise PluginError(row.name, [messages.mcp_not_set_up()])
        host = self.mcp_hosts.host(row.name, row.mcp, row.sandbox_uid, on_tools=self.on_tools)
        stored = active_version(row)
        plugin = stored_plugin(stored) if stored is not None else None
        if not lazy or plugin is None:
            try:
                listed = await host.load()
            except BaseException:
                await host.close()
                raise
            local = row.mcp is not None and row.mcp.transport == "stdio"
            plugin = plugin or (listed if local else replace(listed, tools=()))
        return ActivePlugin(row.active_version or plugin.manifest.version, host, plugin,
                            PluginSource.MCP, self.config(row), revision=mcp_revision(row))


async def describe_again(host: PluginHost, stored: LoadedPlugin) -> LoadedPlugin:
    """`stored`'s plugin as its worker describes it with the settings in force (the host
    is closed when it cannot be: PluginError says why)."""
    name, version = stored.manifest.name, stored.manifest.version
    try:
        fresh = await host.load()
        if fresh.manifest.version != version:
            raise PluginError(name, [messages.files_changed(name, version,
                                                             fresh.manifest.version)])
    except BaseException:
        await host.close()
        raise
    before, after = ([spec.name for spec in p.tools] for p in (stored, fresh))
    log.info("plugin %s %s described again: PLUGIN_CONFIG changed since it was; tools "
             "%s%s", name, version, ", ".join(after) or "none",
             "" if before == after else f" (were {', '.join(before) or 'none'})")
    return fresh


def source_path(active: ActivePlugin) -> Path:
    """Where a builtin was loaded from (its in-process host knows; no directory scan)."""
    assert isinstance(active.host, InProcessHost)
    return active.host.path
