"""What a run keeps in the database besides its tool-call audit: the whole outputs too large
to give the model at once (for `read_tool_output`, dropped when the run ends) and, once it
ends, its token usage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, insert, select

from bot import messages
from bot.errors import BotError
from bot.records import RunUsage
from bot.store import Database
from bot.store.models import RunFeedbackRow, RunUsageRow, ToolOutputRow, utcnow
from bot.store.repositories import rows_changed

VOTES = ("good", "bad")




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
        return rows_changed(done)

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
            votes = (await session.execute(
                select(RunFeedbackRow.run_id, RunFeedbackRow.vote, func.count())
                .where(RunFeedbackRow.run_id.in_([r.run_id for r in rows]))
                .group_by(RunFeedbackRow.run_id, RunFeedbackRow.vote))).all()
        counts = {(run_id, vote): n for run_id, vote, n in votes}
        return [RunUsage(r.run_id, r.user, r.channel, r.model, r.status, r.steps,
                         r.prompt_tokens, r.completion_tokens, r.at,
                         counts.get((r.run_id, "good"), 0), counts.get((r.run_id, "bad"), 0))
                for r in rows]

    async def vote(self, run_id: str, user: str, vote: str, *, channel: str | None
                   ) -> str | None:
        """Record (or change) a user's vote on a run's answer, clicked in `channel`; the
        vote it replaced, if any. BotError when there is no such run, or it was answered
        in another channel (a vote counts only from where the answer was given)."""
        if vote not in VOTES:
            raise ValueError(f"not a vote: {vote!r}")
        async with self.db.write() as session:
            usage = await session.get(RunUsageRow, run_id)
            if usage is None:
                raise BotError(messages.FEEDBACK_NO_SUCH_ANSWER)
            if not channel or usage.channel != channel:
                raise BotError(messages.FEEDBACK_OTHER_CHANNEL)
            row = await session.get(RunFeedbackRow, (run_id, user))
            before = row.vote if row is not None else None
            if row is None:
                session.add(RunFeedbackRow(run_id=run_id, user=user, vote=vote))
            else:
                row.vote, row.at = vote, utcnow()
        return before

    async def feedback_since(self, days: int = 7) -> tuple[int, int]:
        """👍 and 👎 given in the last `days` days."""
        async with self.db.read() as session:
            rows = (await session.execute(
                select(RunFeedbackRow.vote, func.count())
                .where(RunFeedbackRow.at >= utcnow() - timedelta(days=days))
                .group_by(RunFeedbackRow.vote))).all()
        counts = dict(rows)
        return int(counts.get("good", 0)), int(counts.get("bad", 0))
