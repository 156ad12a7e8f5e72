"""Changes of one plugin row inside the manager's write transaction (`transition`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.plugin_host.contract.protocol import STATUS_ENABLED, LoadedPlugin, PluginSource
from bot.plugin_host.lifecycle.opener import source_path
from bot.plugin_host.lifecycle.plugin_store import require_plugin
from bot.plugin_host.lifecycle.versions import record_builtin_version, record_server_version
from bot.plugin_host.policy.scopes import Where, widen
from bot.plugin_host.runtime.active import ActivePlugin
from bot.store.models import PluginRow
from bot.store.repositories import PluginRepository


@dataclass(frozen=True)
class Changed:
    """What a row change did: the row, the audit entry's detail and, for an MCP server
    whose reviewed tool list was accepted, the tools its running host offers from now on
    (with their version)."""

    row: PluginRow
    detail: str | None = None
    retool: tuple[LoadedPlugin, str] | None = None


# Changes one plugin row in a write transaction; None: nothing to audit or tell.
RowChange = Callable[[PluginRepository], Awaitable["Changed | None"]]


def switch_on_change(name: str, active: ActivePlugin | None, where: Where | None
                     ) -> RowChange:
    """The write that turns `name` on (`where` says, scopes.py), recording what the newly
    loaded `active` offers (None: it runs already)."""

    async def switch_on(repo: PluginRepository) -> Changed:
        row = await require_plugin(repo, name)
        if active is not None and row.source == PluginSource.BUILTIN:
            record_builtin_version(row, active.plugin, source_path(active))
        elif active is not None and row.source == PluginSource.MCP:  # what it offers now
            active.version = record_server_version(row, active.plugin)
        scope = widen(row, where) if where is not None else None
        row.enabled, row.status, row.error = True, STATUS_ENABLED, None
        row.consecutive_failures = 0
        version = active.version if active is not None else row.active_version
        return Changed(row, " ".join(part for part in (version, scope) if part) or None)
    return switch_on
