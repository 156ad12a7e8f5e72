"""What a run keeps in the database besides its tool-call audit: the whole outputs too large
to give the model at once (for `read_tool_output`, dropped when the run ends) and, once it
ends, its token usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from bot.store import Database
from bot.store.models import RunUsageRow, ToolOutputRow, utcnow


@dataclass(frozen=True)
class RunUsage:
    run_id: str
    user: str | None
    channel: str | None
    model: str
    status: str
    steps: int
    prompt_tokens: int
    completion_tokens: int
    at: datetime | None = None


class RunRecords:
    def __init__(self, db: Database, *, per_run_limit: int = 4_000_000) -> None:
        self.db = db
        self.per_run_limit = per_run_limit  # characters of kept output per run

    async def keep(self, run_id: str, call_id: str, text: str) -> bool:
        """Keep a whole output for the run; False when the run's budget is spent."""
        async with self.db.write() as session:
            used = await session.scalar(select(func.coalesce(func.sum(ToolOutputRow.size), 0))
                                        .where(ToolOutputRow.run_id == run_id))
            if (used or 0) + len(text) > self.per_run_limit:
                return False
            await session.execute(delete(ToolOutputRow).where(
                ToolOutputRow.run_id == run_id, ToolOutputRow.call_id == call_id))
            session.add(ToolOutputRow(run_id=run_id, call_id=call_id, text=text,
                                      size=len(text)))
        return True

    async def output(self, run_id: str, call_id: str) -> str | None:
        async with self.db.read() as session:
            return await session.scalar(select(ToolOutputRow.text).where(
                ToolOutputRow.run_id == run_id, ToolOutputRow.call_id == call_id))

    async def drop_outputs(self, run_id: str) -> None:
        async with self.db.write() as session:
            await session.execute(delete(ToolOutputRow).where(ToolOutputRow.run_id == run_id))

    async def sweep_outputs(self, older_than: timedelta = timedelta(hours=6)) -> int:
        """Outputs of runs that never ended (the process died mid-run)."""
        async with self.db.write() as session:
            done = await session.execute(delete(ToolOutputRow).where(
                ToolOutputRow.at < utcnow() - older_than))
        return int(done.rowcount or 0)

    async def record_usage(self, usage: RunUsage) -> None:
        async with self.db.write() as session:
            await session.execute(insert(RunUsageRow).values(
                run_id=usage.run_id, at=utcnow(), user=usage.user, channel=usage.channel,
                model=usage.model, status=usage.status, steps=usage.steps,
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens))

    async def recent_usage(self, limit: int = 10) -> Sequence[RunUsage]:
        async with self.db.read() as session:
            rows = (await session.scalars(select(RunUsageRow).order_by(
                RunUsageRow.at.desc()).limit(limit))).all()
        return [RunUsage(r.run_id, r.user, r.channel, r.model, r.status, r.steps,
                         r.prompt_tokens, r.completion_tokens, r.at) for r in rows]
