"""The audit trail: who did what to which plugin or tool, and how it ended.

One service for every writer outside a plugin transition — commands refused to a non-admin,
uploads refused before they touched anything, approval decisions taken in the console — and
for every reader (`/plugin audit`, tests). Changes that also write a plugin row (enable,
install, rollback, approvals in Slack) add their entry in that row's transaction instead,
through `AuditRepository`, so that a change and its entry are never apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.errors import DatabaseFault
from bot.store import Database
from bot.store.repositories import AuditRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the trail, as readers get it (a value, not a database row)."""

    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: str | None


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def recent(self, limit: int = 20, *, target: str | None = None) -> list[AuditEntry]:
        """The newest entries first (of `target` only, when given)."""
        async with self.db.read() as session:
            events = await AuditRepository(session).recent(limit, target=target)
            return [AuditEntry(e.at, e.actor, e.action, e.target, e.outcome, e.detail)
                    for e in events]

    async def record(self, actor: str, action: str, target: str, outcome: str,
                     detail: str | None = None) -> None:
        async with self.db.write() as session:
            AuditRepository(session).record(actor=actor, action=action, target=target,
                                            outcome=outcome, detail=detail)

    async def refusal(self, actor: str, action: str, target: str, reason: str, *,
                      best_effort: bool = False) -> None:
        """An attempt refused before it changed anything (not an admin, a bad upload).
        `best_effort`: a database fault is logged, so that the refusal still gets said."""
        try:
            await self.record(actor, action, target, "refused", reason)
        except DatabaseFault as exc:
            if not best_effort:
                raise
            log.error("could not audit a refused %s by %s: %s", action, actor, exc)

    async def decision(self, actor: str, tool: str, *, approved: bool, detail: str) -> None:
        """An approval decision taken outside Slack (the console), recorded as Slack does."""
        await self.record(actor, "approve" if approved else "deny", tool, "ok", detail)
