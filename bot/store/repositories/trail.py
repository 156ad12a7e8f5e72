"""The trail: admins' actions (audit events) and the agent's tool calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import AuditEvent, ToolCallRow


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self, *, actor: str, action: str, target: str, outcome: str, detail: str | None = None
    ) -> AuditEvent:
        event = AuditEvent(actor=actor, action=action, target=target, outcome=outcome,
                           detail=detail)
        self.session.add(event)
        return event

    async def recent(self, limit: int = 20, *, target: str | None = None) -> Sequence[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if target is not None:
            query = query.where(AuditEvent.target == target)
        return (await self.session.execute(query)).scalars().all()


class ToolCallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, rows: Sequence[dict[str, Any]]) -> None:
        """One bulk INSERT (the ORM's unit of work costs the event loop 6x the CPU)."""
        await self.session.execute(insert(ToolCallRow), list(rows))

    async def recent(self, limit: int = 20, *, run_id: str | None = None
                     ) -> Sequence[ToolCallRow]:
        query = select(ToolCallRow).order_by(ToolCallRow.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(ToolCallRow.run_id == run_id)
        return (await self.session.execute(query)).scalars().all()
