"""MCP servers as plugins, for admins: `mcp add` (a new server, or a new address or
credentials for one; never an address off limits), `mcp accept` of a changed tool list the
manager held for review, and the operator's MCP_SERVERS' rows. Everything else —
enable, disable, remove, approvals, audit, health — is the plugin lifecycle every source
shares (manager.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import messages
from bot.errors import ConfigError, ConflictError, PluginError
from bot.plugin_host.contract.protocol import LoadedPlugin, Manifest, PluginSource
from bot.plugin_host.contract.validation import plugin_name_problem
from bot.plugin_host.lifecycle.actions import Action
from bot.plugin_host.lifecycle.manager import Outcome, PluginManager
from bot.plugin_host.lifecycle.plugin_store import new_sandbox_uid, require_plugin
from bot.plugin_host.lifecycle.row_changes import Changed
from bot.plugin_host.lifecycle.versions import new_plugin_row, record_server_version, stored_plugin
from bot.plugin_host.mcp.checks import (
    display_url,
    header_problem,
    resolve_problem,
    url_problem,
)
from bot.plugin_host.mcp.connect import McpHosts, http_target
from bot.plugin_host.mcp.last_error import LastErrors
from bot.plugin_host.mcp.review import pending_of, summary
from bot.plugin_host.runtime.active import ActivePlugin
from bot.store import Database
from bot.store.models import McpServerRow, PluginRow
from bot.store.repositories import AuditRepository, PluginRepository, active_version

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    """What one connection learnt about a server: its tools, or why it did not answer."""

    plugin: LoadedPlugin | None
    error: str | None


class McpServers:
    def __init__(self, manager: PluginManager, hosts: McpHosts, db: Database,
                 last_errors: LastErrors) -> None:
        self.manager = manager
        self.hosts = hosts
        self._db = db
        self._last_errors = last_errors

    async def add(self, name: str, url: str, headers: Mapping[str, str], *,
                  actor: str) -> Outcome:
        """Add a remote server as plugin `name` (disabled until enabled), or give an
        existing one a new address and headers. The server is asked for its tools first;
        one that does not answer is saved anyway, with the reason as its last error."""
        await self._check(name, url, headers)
        async with self._db.read() as session:  # refused before the server is asked
            _refuse_taken(await PluginRepository(session).get(name))
        sealed = self.hosts.box.seal(dict(headers)) if headers else None
        probe = await self._probe(name, url, headers)
        updated = False

        async def put(repo: PluginRepository) -> Changed:
            nonlocal updated
            row = await self._row_for(repo, name)
            updated = row.mcp is not None
            server = row.mcp or McpServerRow(transport="http", revision=0, header_names=[])
            row.mcp = server
            server.url, server.sealed_headers = url, sealed
            server.header_names = sorted(headers, key=str.lower)
            server.revision, server.added_by = server.revision + 1, actor
            server.last_error = probe.error
            server.pending_tools = server.pending_version = server.pending_since = None
            if probe.plugin is not None:  # what the admin sees now is what is reviewed
                server.server_name = probe.plugin.manifest.author[:128]
                server.server_version = probe.plugin.manifest.version
                record_server_version(row, probe.plugin)
            names = ", ".join(server.header_names) or "none"
            return Changed(row, f"{display_url(url)} (headers: {names})")

        await self.manager.change(name, Action.MCP_ADD, put, actor=actor)
        self._last_errors.noted(name, probe.error)
        info = await self.manager.info(name)
        if info.enabled:
            await self.manager.refresh()  # the new address, from the agent's next step
        text = messages.mcp_added(
            name, display_url(url), updated=updated, error=probe.error, enabled=info.enabled,
            server=_server_label(probe.plugin), tools=info.tool_names)
        if probe.plugin is not None and probe.plugin.warnings:
            text += "\n" + "\n".join(f"- {w}" for w in probe.plugin.warnings)
        return Outcome(text, info, True)

    async def accept(self, name: str, *, actor: str) -> Outcome:
        """Offer the tools a server's changed list holds for review (audited)."""
        accepted: LoadedPlugin | None = None

        async def take(repo: PluginRepository) -> Changed:
            nonlocal accepted
            row = await require_plugin(repo, name)
            reviewed = _reviewed(row, self.manager.running(name))
            pending = pending_of(row.mcp.pending_tools if row.mcp else None,
                                 row.mcp.pending_version if row.mcp else None, reviewed)
            if pending is None or row.mcp is None:
                raise ConflictError(messages.mcp_nothing_to_review(name))
            accepted, version = pending, record_server_version(row, pending)
            row.mcp.pending_tools = row.mcp.pending_version = row.mcp.pending_since = None
            return Changed(row, summary(pending, reviewed), retool=(pending, version))

        info = await self.manager.change(name, Action.MCP_ACCEPT, take, actor=actor)
        tools = [tool.name for tool in accepted.tools] if accepted else []
        return Outcome(messages.mcp_review_accepted(name, tools), info, True)

    async def sync_local(self, names: Iterable[str]) -> None:
        """Give every MCP_SERVERS entry its plugin row (disabled until enabled, with its
        own sandbox uid); drop the rows of entries taken out of it that are switched off.
        A start with nothing to change writes nothing."""
        wanted = set(names)
        async with self._db.read() as session:
            local = await PluginRepository(session).local_mcp()  # name -> enabled
        stale = [name for name, enabled in local.items() if name not in wanted and not enabled]
        if not wanted - local.keys() and not stale:
            return
        builtins = self.manager.builtin_names()
        async with self._db.write() as session:
            repo = PluginRepository(session)
            for name in sorted(wanted - local.keys()):
                row = await repo.get(name)
                problem = plugin_name_problem(name, builtins)
                if row is not None or problem:  # a builtin not synced yet has no row
                    log.error("%s", messages.mcp_local_taken(name, row.source) if row
                              else messages.mcp_local_bad(name, problem or ""))
                    continue
                repo.add(await self._local_row(repo, name))
                AuditRepository(session).record(actor="MCP_SERVERS", action="mcp-add",
                                                target=name, outcome="ok", detail="stdio")
            for name in stale:
                await repo.delete(name)

    async def _local_row(self, repo: PluginRepository, name: str) -> PluginRow:
        row = new_plugin_row(name, PluginSource.MCP, enabled=False)
        row.mcp = McpServerRow(transport="stdio", revision=1, header_names=[],
                               added_by="MCP_SERVERS")
        row.sandbox_uid = await new_sandbox_uid(repo, name, self.manager.sandbox_uids)
        return row

    async def _check(self, name: str, url: str, headers: Mapping[str, str]) -> None:
        problems = [plugin_name_problem(name, self.manager.builtin_names()), url_problem(url),
                    *(header_problem(key, value) for key, value in headers.items())]
        first = next((p for p in problems if p), None)
        if first is not None:
            raise ConfigError(first)
        if headers and not self.hosts.box.usable:
            raise ConfigError(messages.secret_key_needed())
        refused = await resolve_problem(url, self.hosts.allow)
        if refused is not None:
            raise ConfigError(refused)

    async def _probe(self, name: str, url: str, headers: Mapping[str, str]) -> Probe:
        from bot.plugin_host.mcp.host import McpHost  # the SDK, on first use

        target = http_target(name, url, headers, max_bytes=self.hosts.max_bytes,
                             allow=self.hosts.allow)
        host = McpHost(target, connect_timeout=self.hosts.connect_timeout,
                       limits=self.hosts.limits)
        try:
            return Probe(await host.load(), None)
        except PluginError as exc:
            return Probe(None, "; ".join(p.message for p in exc.problems) or str(exc))
        finally:
            await host.close()

    async def _row_for(self, repo: PluginRepository, name: str) -> PluginRow:
        row = await repo.get(name)
        _refuse_taken(row)
        if row is None:
            row = new_plugin_row(name, PluginSource.MCP, enabled=False)
            repo.add(row)
        return row


def _refuse_taken(row: PluginRow | None) -> None:
    """ConflictError when `mcp add` may not (re)define this plugin: another source's, or
    a local server the operator configured."""
    if row is None:
        return
    if row.source != PluginSource.MCP:
        raise ConflictError(messages.mcp_name_taken(row.name, row.source))
    if row.mcp is not None and row.mcp.transport == "stdio":
        raise ConflictError(messages.mcp_configured_not_removable(row.name))


def _server_label(plugin: LoadedPlugin | None) -> str | None:
    if plugin is None:
        return None
    return f"{plugin.manifest.author} {plugin.manifest.version}".strip()


def _reviewed(row: PluginRow, active: ActivePlugin | None) -> LoadedPlugin:
    """What an admin last reviewed of an MCP plugin: what runs, else its active version."""
    if active is not None:
        return active.plugin
    version = active_version(row)
    if version is not None:
        return stored_plugin(version)
    return LoadedPlugin(Manifest(name=row.name, version="0"), ())
