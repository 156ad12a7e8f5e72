"""Start-up (and `reload`): builtins on disk and rows in the database made one, and every
plugin that should be on loaded. A plugin that fails to load here is this process's
problem (load_state.py): its shared row keeps what the admins chose."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import messages
from bot.errors import PluginError
from bot.plugin_host.contract.protocol import (
    STATUS_DISABLED,
    STATUS_ENABLED,
    STATUS_ERROR,
    PluginSource,
)
from bot.plugin_host.lifecycle.discovery import BUILTINS, discover
from bot.plugin_host.lifecycle.load_state import LoadStates
from bot.plugin_host.lifecycle.opener import PluginOpener, source_path
from bot.plugin_host.lifecycle.versions import (
    new_plugin_row,
    record_builtin_version,
    record_description,
)
from bot.plugin_host.runtime.active import ActivePlugin, find_clash
from bot.store import Database
from bot.store.models import PluginRow
from bot.store.repositories import PluginRepository


@dataclass
class Startup:
    db: Database
    opener: PluginOpener
    loads: LoadStates
    plugins_dir: Path
    default_enabled: frozenset[str]

    async def sync(self, *, actor: str) -> tuple[dict[str, ActivePlugin], list[str]]:
        """The plugins to run, and the names of those that should be on."""
        builtins = discover(self.plugins_dir / BUILTINS)
        loaded = {name: await self.opener.load_builtin(name, path)
                  for name, path in builtins.items()}
        fresh: dict[str, ActivePlugin] = {}
        async with self.db.write() as session:
            repo = PluginRepository(session)
            rows = {row.name: row for row in await repo.all()}
            for name in builtins.keys() - rows.keys():
                rows[name] = new_plugin_row(name, PluginSource.BUILTIN,
                                            enabled=name in self.default_enabled)
                repo.add(rows[name])
            for name, row in sorted(rows.items()):
                candidate = loaded.pop(name, None) if row.source == PluginSource.BUILTIN else None
                problem = await self._settle(row, candidate, fresh, on_disk=name in builtins)
                if problem is None:
                    self.loads.loaded(name)
                elif self.loads.failed(name, problem, row.active_version):
                    await self.loads.audit_failure(session, name, problem, actor=actor)
        for leftover in loaded.values():  # builtins shadowed by an upload of the same name
            if isinstance(leftover, ActivePlugin):
                await leftover.host.close()
        return fresh, [name for name, row in rows.items() if row.enabled]

    async def _settle(self, row: PluginRow, candidate: ActivePlugin | PluginError | None,
                      fresh: dict[str, ActivePlugin], *, on_disk: bool) -> str | None:
        """Decide one plugin's state at start-up, activating it when it should be on; why
        it could not load here, if it could not."""
        if row.source == PluginSource.BUILTIN and not on_disk:
            return messages.files_missing(f"{BUILTINS}/{row.name}")
        if isinstance(candidate, PluginError):
            return str(candidate)
        if candidate is not None:
            record_builtin_version(row, candidate.plugin, source_path(candidate))
        if not row.enabled:
            if row.status != STATUS_ERROR or candidate is not None:
                row.status, row.error = STATUS_DISABLED, None
            if candidate is not None:
                await candidate.host.close()
            return None
        try:
            active = candidate or await self.opener.open(row, lazy=True)
        except PluginError as exc:
            return str(exc)
        clash = find_clash(fresh, row.name, active.plugin.tools)
        if clash:
            await active.host.close()
            return messages.tool_clash(row.name, *clash)
        record_description(row, active)
        fresh[row.name] = self.opener.for_row(active, row)
        row.status, row.error = STATUS_ENABLED, None
        return None
