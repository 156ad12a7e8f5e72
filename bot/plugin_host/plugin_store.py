"""Plugin state in the database that needs no admin lock: the audit trail, failure counts,
version checks. `PluginManager.store`; the manager's own transitions hold its lock."""

from __future__ import annotations

from collections.abc import Sequence

from bot.plugin_host.protocol import STATUS_ERROR
from bot.plugin_host.versions import check_new_version
from bot.store import Database
from bot.store.models import AuditEvent
from bot.store.repositories import AuditRepository, PluginRepository


class PluginStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def audit(self, limit: int = 20, *, target: str | None = None) -> list[AuditEvent]:
        async with self.db.read() as session:
            events: Sequence[AuditEvent] = await AuditRepository(session).recent(
                limit, target=target)
        return list(events)

    async def record(self, actor: str, action: str, target: str, outcome: str,
                     detail: str | None = None) -> None:
        async with self.db.write() as session:
            AuditRepository(session).record(actor=actor, action=action, target=target,
                                            outcome=outcome, detail=detail)

    async def record_refusal(self, actor: str, action: str, target: str, reason: str) -> None:
        """Audit an attempt refused before it changed anything (not an admin, bad upload)."""
        await self.record(actor, action, target, "refused", reason)

    async def record_decision(self, actor: str, tool: str, *, approved: bool,
                              detail: str) -> None:
        """Audit an approval decision taken outside Slack (the console), as Slack does."""
        await self.record(actor, "approve" if approved else "deny", tool, "ok", detail)

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

    async def upload_paths(self) -> set[str]:
        """Every installed version's path (relative to the plugins dir)."""
        async with self.db.read() as session:
            rows = await PluginRepository(session).all()
        return {version.path for row in rows for version in row.versions}

    async def check_upload(self, name: str, version: str, sha256: str) -> None:
        """Raise ConflictError if `name` `version` (with this content) cannot be installed."""
        async with self.db.read() as session:
            row = await PluginRepository(session).get(name)
        if row is not None:
            check_new_version(row, version, sha256)
