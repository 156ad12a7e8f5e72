"""Plugin state in the database that needs no admin lock: failure counts, load errors,
version checks. `PluginManager.store`; the manager's own transitions hold its lock."""

from __future__ import annotations

import difflib

from bot import messages
from bot.errors import ConflictError, NotFoundError
from bot.plugin_host.contract.protocol import STATUS_ERROR, PluginSource
from bot.plugin_host.lifecycle.versions import check_new_version, same_release
from bot.store import Database
from bot.store.models import PluginRow
from bot.store.repositories import AuditRepository, PluginRepository


async def require_plugin(repo: PluginRepository, name: str) -> PluginRow:
    """The plugin's row, or NotFoundError naming the closest names there are."""
    row = await repo.get(name)
    if row is None:
        close = difflib.get_close_matches(name, await repo.names(), n=2, cutoff=0.5)
        raise NotFoundError("plugin", name, close)
    return row


async def new_sandbox_uid(repo: PluginRepository, name: str, uids: range) -> int:
    """A uid for an uploaded plugin's workers that no other plugin holds."""
    uid = await repo.free_sandbox_uid(uids)
    if uid is None:
        raise ConflictError(messages.no_free_sandbox_uid(name, uids))
    return uid


class PluginStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mark_error(self, name: str, error: str, *, actor: str, action: str) -> None:
        async with self.db.write() as session:
            row = await PluginRepository(session).get(name)
            if row is not None:
                row.status, row.error = STATUS_ERROR, error
            AuditRepository(session).record(actor=actor, action=action, target=name,
                                            outcome="error", detail=error)

    async def count_failure(self, name: str, *, failed: bool) -> int | None:
        """Count one more failure in a row (or reset the count); the new count, or None for
        a plugin that no longer exists."""
        async with self.db.write() as session:
            row = await PluginRepository(session).get(name)
            if row is None:
                return None
            row.consecutive_failures = row.consecutive_failures + 1 if failed else 0
            return row.consecutive_failures

    async def has_uploads(self) -> bool:
        async with self.db.read() as session:
            return await PluginRepository(session).any_of_source(PluginSource.UPLOAD)

    async def upload_paths(self) -> set[str]:
        """Every installed version's path (relative to the plugins dir)."""
        async with self.db.read() as session:
            rows = await PluginRepository(session).all()
        return {version.path for row in rows for version in row.versions}

    async def check_upload(self, name: str, version: str, sha256: str, *,
                           installed_is_fine: bool = False) -> bool:
        """Raise ConflictError if `name` `version` (with this content) cannot be installed;
        True when exactly this content is installed already and `installed_is_fine` (a
        check, which then says so)."""
        async with self.db.read() as session:
            row = await PluginRepository(session).get(name)
        if row is None:
            return False
        if installed_is_fine and row.source == PluginSource.UPLOAD and any(
                same_release(v.version, version) and v.sha256 == sha256
                for v in row.versions):
            return True
        check_new_version(row, version, sha256)
        return False
