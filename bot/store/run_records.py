"""What a run keeps in the database besides its tool-call audit: the whole outputs too large
to give the model at once (for `read_tool_output`, dropped when the run ends) and, once it
ends, its token usage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from bot import messages
from bot.errors import BotError
from bot.records import RunUsage
from bot.store import Database
from bot.store.models import utcnow
from bot.store.repositories import OutputRepository, UsageRepository

log = logging.getLogger(__name__)
VOTES = ("good", "bad")
FLUSH_SECONDS = 10.0  # the longest a flush, or a vote, waits for a finished run's records




class RunRecords:
    def __init__(self, db: Database, *, per_run_limit: int = 4_000_000) -> None:
        self.db = db
        self.per_run_limit = per_run_limit  # characters of kept output per run
        self._finishing: dict[str, asyncio.Task[None]] = {}  # run id: its end being written

    async def keep(self, run_id: str, call_id: str, text: str) -> bool:
        """Keep a whole output for the run; False when the run's budget is spent."""
        async with self.db.write() as session:
            outputs = OutputRepository(session)
            if await outputs.used(run_id) + len(text) > self.per_run_limit:
                return False
            await outputs.put(run_id, call_id, text)
        return True

    async def output(self, run_id: str, call_id: str) -> str | None:
        async with self.db.read() as session:
            return await OutputRepository(session).get(run_id, call_id)

    async def sweep_outputs(self, older_than: timedelta = timedelta(hours=6)) -> int:
        """Outputs of runs that never ended (the process died mid-run)."""
        async with self.db.write() as session:
            return await OutputRepository(session).sweep(utcnow() - older_than)

    def finish(self, usage: RunUsage, *, drop_outputs: bool) -> None:
        """Write a finished run's usage (and drop its kept outputs) in the background: the
        answer goes to the user meanwhile. A vote on it waits for the write (`vote`);
        `flush` waits for them all at shutdown."""
        task = asyncio.create_task(self._finish(usage, drop_outputs))
        self._finishing[usage.run_id] = task
        task.add_done_callback(lambda _: self._finishing.pop(usage.run_id, None))

    async def _finish(self, usage: RunUsage, drop_outputs: bool) -> None:
        """Its kept outputs dropped and its usage added, in one write."""
        try:
            async with self.db.write() as session:
                if drop_outputs:
                    await OutputRepository(session).drop(usage.run_id)
                await UsageRepository(session).add(dict(
                    run_id=usage.run_id, user=usage.user, channel=usage.channel,
                    model=usage.model, status=usage.status, steps=usage.steps,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens))
        except Exception:  # the answer was given; the record is what is lost, said once
            log.exception("run %s: could not write its records", usage.run_id)

    async def flush(self) -> None:
        """Wait (up to FLUSH_SECONDS) for the records of runs that ended to be written."""
        if self._finishing:
            await asyncio.wait(list(self._finishing.values()), timeout=FLUSH_SECONDS)

    async def recent_usage(self, limit: int = 10) -> Sequence[RunUsage]:
        await self.flush()  # runs that ended here a moment ago are among them
        async with self.db.read() as session:
            usage = UsageRepository(session)
            rows = await usage.recent(limit)
            counts = await usage.votes_on([r.run_id for r in rows])
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
        writing = self._finishing.get(run_id)
        if writing is not None:  # clicked before the run's record was written here
            await asyncio.wait([writing], timeout=FLUSH_SECONDS)
        async with self.db.write() as session:
            usage = UsageRepository(session)
            run = await usage.get(run_id)
            if run is None:
                raise BotError(messages.FEEDBACK_NO_SUCH_ANSWER)
            if not channel or run.channel != channel:
                raise BotError(messages.FEEDBACK_OTHER_CHANNEL)
            return await usage.vote(run_id, user, vote)

    async def feedback_since(self, days: int = 7) -> tuple[int, int]:
        """👍 and 👎 given in the last `days` days."""
        async with self.db.read() as session:
            counts = await UsageRepository(session).votes_since(utcnow() - timedelta(days=days))
        return int(counts.get("good", 0)), int(counts.get("bad", 0))
