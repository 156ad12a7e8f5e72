"""Changes of one plugin row inside the manager's write transaction (`transition`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.plugin_host.contract.protocol import STATUS_ENABLED, PluginSource
from bot.plugin_host.lifecycle.opener import source_path
from bot.plugin_host.lifecycle.plugin_store import require_plugin
from bot.plugin_host.lifecycle.versions import record_builtin_version, record_server_version
from bot.plugin_host.policy.scopes import Where, widen
from bot.plugin_host.runtime.active import ActivePlugin
from bot.store.models import PluginRow
from bot.store.repositories import PluginRepository

# Changes one plugin row in a write transaction: the row, and the audit entry's detail.
RowChange = Callable[[PluginRepository], Awaitable[tuple[PluginRow, "str | None"]]]


def switch_on_change(name: str, active: ActivePlugin | None, where: Where | None
                     ) -> RowChange:
    """The write that turns `name` on (`where` says, scopes.py), recording what the newly
    loaded `active` offers (None: it runs already)."""

    async def switch_on(repo: PluginRepository) -> tuple[PluginRow, str | None]:
        row = await require_plugin(repo, name)
        if active is not None and row.source == PluginSource.BUILTIN:
            record_builtin_version(row, active.plugin, source_path(active))
        elif active is not None and row.source == PluginSource.MCP:  # what it offers now
            active.version = record_server_version(row, active.plugin)
        scope = widen(row, where) if where is not None else None
        row.enabled, row.status, row.error = True, STATUS_ENABLED, None
        row.consecutive_failures = 0
        version = active.version if active is not None else row.active_version
        return row, " ".join(part for part in (version, scope) if part) or None
    return switch_on
