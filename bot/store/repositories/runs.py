"""The run aggregates: Slack deliveries already handled, Slack runs and the replicas
answering them, approvals waiting for an admin, outputs kept for paging, and each run's
token usage and votes. Each repository takes a session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Executable, Select, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    ApprovalRow,
    PluginLoadRow,
    ProcessedEvent,
    ReplicaRow,
    RunFeedbackRow,
    RunUsageRow,
    SlackRateHoldRow,
    SlackRunRow,
    ToolOutputRow,
    utcnow,
)
from bot.store.repositories.meta import rows_changed


class RunState(StrEnum):
    """A Slack run's row: waiting for its turn in the thread, running, or done."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"


def live_replicas(stale: float) -> Select[str]:
    """The ids of the replicas whose heartbeat is fresher than `stale` seconds."""
    return select(ReplicaRow.id).where(
        ReplicaRow.heartbeat_at >= utcnow() - timedelta(seconds=stale))


class DeliveryRepository:
    """Slack deliveries (event ids, file ids) already handled, by any replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first(self, key: str) -> bool:
        """Record `key` as processed; False if it already was (a retry or a duplicate).
        One atomic insert-or-ignore, so two replicas receiving the same retry cannot both
        win."""
        from sqlalchemy.dialects import postgresql, sqlite

        bind = self.session.bind
        dialect = bind.dialect.name if bind is not None else ""
        values = {"key": key, "at": utcnow()}
        if dialect == "sqlite":
            statement: Executable = sqlite.insert(ProcessedEvent).values(
                values).on_conflict_do_nothing()
        elif dialect == "postgresql":
            statement = postgresql.insert(ProcessedEvent).values(
                values).on_conflict_do_nothing()
        else:
            raise NotImplementedError(f"deduplication needs SQLite or PostgreSQL, not {dialect}")
        return bool(rows_changed(await self.session.execute(statement)))

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(ProcessedEvent).where(ProcessedEvent.at < before))


class SlackRunRepository:
    """`slack_runs`: every mention's run (waiting, running, done) and its replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *, channel: str, thread_ts: str, mention_ts: str, asker: str | None,
                  replica: str) -> int:
        row = SlackRunRow(channel=channel, thread_ts=thread_ts, mention_ts=mention_ts,
                          asker=asker, replica=replica, state=RunState.WAITING)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def running(self, row_id: int, run_id: str, status_ts: str,
                      stream_ts: str | None = None) -> None:
        await self.session.execute(update(SlackRunRow).where(SlackRunRow.id == row_id).values(
            state=RunState.RUNNING, run_id=run_id, status_ts=status_ts, stream_ts=stream_ts))

    async def renew(self, replica: str) -> set[int]:
        """Renew the lease of every open run of `replica`; the ids of those still its own
        (a run another replica took over is closed, and stays so)."""
        renewed = await self.session.execute(update(SlackRunRow).where(
            SlackRunRow.replica == replica, SlackRunRow.state != RunState.DONE).values(
            beat_at=utcnow()).returning(SlackRunRow.id))
        return set(renewed.scalars().all())

    async def take(self, row_id: int, stale: float) -> bool:
        """Close a run whose lease ran out `stale` seconds ago; False when it is closed
        already or its replica renewed the lease first. The condition is on the row itself,
        so a renewal and a take-over of one run cannot both win."""
        done = await self.session.execute(update(SlackRunRow).where(
            SlackRunRow.id == row_id, SlackRunRow.state != RunState.DONE,
            SlackRunRow.beat_at < utcnow() - timedelta(seconds=stale)).values(
            state=RunState.DONE, finished_at=utcnow()))
        return bool(rows_changed(done))

    async def close(self, row_id: int) -> bool:
        """Mark the run done; False when it already was (another replica closed it)."""
        done = await self.session.execute(update(SlackRunRow).where(
            SlackRunRow.id == row_id, SlackRunRow.state != RunState.DONE).values(
            state=RunState.DONE, finished_at=utcnow()))
        return bool(rows_changed(done))

    async def close_all_of(self, replica: str) -> None:
        await self.session.execute(update(SlackRunRow).where(
            SlackRunRow.replica == replica, SlackRunRow.state != RunState.DONE).values(
            state=RunState.DONE, finished_at=utcnow()))

    async def by_run_id(self, run_id: str) -> SlackRunRow | None:
        return (await self.session.execute(select(SlackRunRow).where(
            SlackRunRow.run_id == run_id))).scalar_one_or_none()

    async def request_stop(self, run_id: str, by: str) -> bool:
        """Leave a Stop request on a running run's row; False if it no longer runs."""
        done = await self.session.execute(update(SlackRunRow).where(
            SlackRunRow.run_id == run_id, SlackRunRow.state == RunState.RUNNING).values(
            stop_requested_by=by))
        return bool(rows_changed(done))

    async def earlier_live(self, row_id: int, channel: str, thread_ts: str, mention_ts: str,
                           stale: float) -> bool:
        """Whether a mention before this one (by Slack's ts) in the thread is still live:
        open, its lease renewed within `stale` seconds."""
        return bool(await self.session.scalar(select(exists().where(
            SlackRunRow.channel == channel, SlackRunRow.thread_ts == thread_ts,
            SlackRunRow.state != RunState.DONE,
            SlackRunRow.beat_at >= utcnow() - timedelta(seconds=stale),
            or_(SlackRunRow.mention_ts < mention_ts,
                and_(SlackRunRow.mention_ts == mention_ts, SlackRunRow.id < row_id))))))

    async def stop_requests(self, replica: str) -> Sequence[str | None]:
        """The run ids running on `replica` that someone asked to stop."""
        return (await self.session.execute(select(SlackRunRow.run_id).where(
            SlackRunRow.replica == replica, SlackRunRow.state == RunState.RUNNING,
            SlackRunRow.stop_requested_by.is_not(None)))).scalars().all()

    async def orphans(self, stale: float, limit: int = 20) -> Sequence[SlackRunRow]:
        """Open runs whose lease ran out (their replica stopped renewing it)."""
        return (await self.session.execute(select(SlackRunRow).where(
            SlackRunRow.state != RunState.DONE,
            SlackRunRow.beat_at < utcnow() - timedelta(seconds=stale)).limit(limit)
        )).scalars().all()

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(SlackRunRow).where(
            SlackRunRow.state == RunState.DONE, SlackRunRow.finished_at < before))


class ReplicaRepository:
    """`replicas`: each `bot run`'s heartbeat."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def beat(self, replica: str) -> None:
        row = await self.session.get(ReplicaRow, replica)
        if row is None:
            self.session.add(ReplicaRow(id=replica))
        else:
            row.heartbeat_at = utcnow()

    async def alive(self, replica: str, stale: float) -> bool:
        return bool(await self.session.scalar(select(
            live_replicas(stale).where(ReplicaRow.id == replica).exists())))

    async def leave(self, replica: str) -> None:
        await self.session.execute(delete(ReplicaRow).where(ReplicaRow.id == replica))

    async def prune(self, before: datetime) -> None:
        """Replicas silent since `before`, and the plugin loads of replicas gone."""
        await self.session.execute(delete(ReplicaRow).where(ReplicaRow.heartbeat_at < before))
        await self.session.execute(delete(PluginLoadRow).where(
            PluginLoadRow.replica.not_in(select(ReplicaRow.id))))


class ApprovalRepository:
    """`approvals`: a gated tool call waiting for an admin, and what became of it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: ApprovalRow) -> None:
        self.session.add(row)

    async def get(self, approval_id: str) -> ApprovalRow | None:
        return await self.session.get(ApprovalRow, approval_id)

    async def decide(self, approval_id: str, pending: str, status: str,
                     user: str | None) -> str | None:
        """Decide a pending approval in one atomic update; its tool, or None when it was
        no longer `pending` (two clicks cannot both win)."""
        tool: str | None = await self.session.scalar(update(ApprovalRow).where(
            ApprovalRow.id == approval_id, ApprovalRow.status == pending
        ).values(status=status, decided_by=user, decided_at=utcnow()).returning(
            ApprovalRow.tool))
        return tool


class OutputRepository:
    """`tool_outputs`: whole outputs kept for a run's paging."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def used(self, run_id: str) -> int:
        """Characters kept for the run so far."""
        return int(await self.session.scalar(select(func.coalesce(
            func.sum(ToolOutputRow.size), 0)).where(ToolOutputRow.run_id == run_id)) or 0)

    async def put(self, run_id: str, call_id: str, text: str) -> None:
        await self.session.execute(delete(ToolOutputRow).where(
            ToolOutputRow.run_id == run_id, ToolOutputRow.call_id == call_id))
        self.session.add(ToolOutputRow(run_id=run_id, call_id=call_id, text=text,
                                       size=len(text)))

    async def get(self, run_id: str, call_id: str) -> str | None:
        text: str | None = await self.session.scalar(select(ToolOutputRow.text).where(
            ToolOutputRow.run_id == run_id, ToolOutputRow.call_id == call_id))
        return text

    async def drop(self, run_id: str) -> None:
        await self.session.execute(delete(ToolOutputRow).where(ToolOutputRow.run_id == run_id))

    async def sweep(self, before: datetime) -> int:
        return rows_changed(await self.session.execute(delete(ToolOutputRow).where(
            ToolOutputRow.at < before)))


class UsageRepository:
    """`run_usage` and `run_feedback`: what each finished run used, and the votes on it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(RunUsageRow).values(at=utcnow(), **values))

    async def recent(self, limit: int) -> Sequence[RunUsageRow]:
        return (await self.session.scalars(select(RunUsageRow).order_by(
            RunUsageRow.at.desc()).limit(limit))).all()

    async def get(self, run_id: str) -> RunUsageRow | None:
        return await self.session.get(RunUsageRow, run_id)

    async def votes_on(self, run_ids: Sequence[str]) -> dict[tuple[str, str], int]:
        """(run id, vote) -> how many."""
        rows = (await self.session.execute(
            select(RunFeedbackRow.run_id, RunFeedbackRow.vote, func.count())
            .where(RunFeedbackRow.run_id.in_(run_ids))
            .group_by(RunFeedbackRow.run_id, RunFeedbackRow.vote))).all()
        return {(run_id, vote): int(n) for run_id, vote, n in rows}

    async def vote(self, run_id: str, user: str, vote: str) -> str | None:
        """Record or change `user`'s vote; the vote it replaced, if any."""
        row = await self.session.get(RunFeedbackRow, (run_id, user))
        before = row.vote if row is not None else None
        if row is None:
            self.session.add(RunFeedbackRow(run_id=run_id, user=user, vote=vote))
        else:
            row.vote, row.at = vote, utcnow()
        return before

    async def votes_since(self, since: datetime) -> dict[str, int]:
        rows = (await self.session.execute(
            select(RunFeedbackRow.vote, func.count())
            .where(RunFeedbackRow.at >= since).group_by(RunFeedbackRow.vote))).all()
        return {vote: int(n) for vote, n in rows}


class SlackRateHoldRepository:
    """`slack_rate_holds`: until when each Slack method is held, for every replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(self, method: str, until: datetime) -> None:
        """Hold `method` until `until`, unless it is held longer already."""
        held = await self.session.get(SlackRateHoldRow, method)
        if held is None:
            self.session.add(SlackRateHoldRow(method=method, until=until))
        elif held.until < until:
            held.until = until

    async def current(self) -> dict[str, datetime]:
        """The holds not over yet."""
        rows = await self.session.execute(select(SlackRateHoldRow.method, SlackRateHoldRow.until)
                                          .where(SlackRateHoldRow.until > utcnow()))
        return {method: until for method, until in rows.all()}
