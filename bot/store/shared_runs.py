"""Runs shared between replicas through the database.

Every mention gets a row (waiting, running, done) naming the replica answering it, and
every replica keeps its heartbeat row fresh. With those, whichever replica Slack sends a
request to can:
- keep a thread's runs in order: a mention waits while an earlier one in its thread is
  live anywhere;
- stop a run that lives elsewhere: the Stop click leaves a request on the row, which the
  owner picks up within a tick;
- tell a thread its question was lost when the replica answering it died: each open row is
  a lease its replica renews with every heartbeat; once it is `lease` seconds old, another
  replica takes the row over (closes it once, atomically, on the row's own lease) and tells
  the thread. The owner, before each Slack write of a run, makes sure it still holds the
  lease: after a pause or a cut-off longer than the lease less a heartbeat it renews first,
  and a run taken over meanwhile stops without a word (the thread was told by the taker).
The same loop prunes what is no longer needed: handled Slack deliveries after a day, closed
runs after a week, replicas silent for a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.errors import DatabaseFault
from bot.store import Database
from bot.store.changes import STOPS, ChangeFeed
from bot.store.models import utcnow
from bot.store.repositories import (
    DeliveryRepository,
    ReplicaRepository,
    RunState,
    SlackRunRepository,
)

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
STALE_SECONDS = 20.0  # the default lease (REPLICA_LEASE_SECONDS); renewed 4 times in it
PRUNE_SECONDS = 3600.0
KEEP_DELIVERIES = timedelta(days=1)  # Slack retries within minutes
KEEP_RUNS = timedelta(days=7)


__all__ = ["LostRun", "RunRef", "RunState", "SharedRuns"]


@dataclass(frozen=True)
class LostRun:
    channel: str
    thread_ts: str
    status_ts: str | None
    started: bool
    stream_ts: str | None = None  # the answer's stream, left open: the taker stops it


@dataclass(frozen=True)
class RunRef:
    """A Slack run as a surface sees it: enough to say who may stop it, and where."""

    run_id: str
    state: RunState
    asker: str | None
    replica: str  # the replica it waits or runs on
    alive: bool  # whether that replica still beats


class SharedRuns:
    def __init__(self, db: Database, *, tick: float = TICK_SECONDS,
                 lease: float = STALE_SECONDS, feed: ChangeFeed | None = None) -> None:
        self.db = db
        self.feed = feed  # a Stop request left on another replica, heard at once
        self.tick = tick
        self.stale = lease
        self.heartbeat = lease / 4
        self.replica = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rows: dict[int, float] = {}  # our rows in their turn: since when (monotonic)
        self._queued_behind: dict[int, bool] = {}  # enqueued rows: an earlier one was live
        self._run_of: dict[int, str] = {}  # and the runs answering them
        self._renewed = -math.inf  # when the last renewal the database took began
        self._renewal: asyncio.Future[None] | None = None  # the one under way (`_renew`)
        self._refused = -math.inf  # when the database last refused a renewal `holds` tried
        self._taken: set[int] = set()  # our rows another replica took over meanwhile
        self._on_taken: Callable[[str], object] = lambda run_id: None
        self._stopped: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Condition()
        self._closing: set[asyncio.Task[None]] = set()  # rows the database refused to close
        self.passes = 0  # bookkeeping rounds completed: what `bot doctor` and tests watch

    async def start(self, *, on_stop: Callable[[str], object],
                    on_lost: Callable[[LostRun], Awaitable[None]]) -> None:
        """Beat once, then keep beating, stopping and recovering in the background. A run
        another replica took over (this one paused past its lease) is stopped with
        `on_stop` too: its Slack writes are refused by `holds`."""
        self._on_taken = on_stop
        await self._beat()
        self._task = asyncio.create_task(self._watch(on_stop, on_lost))

    async def close(self) -> None:
        """Stop the loop and leave: any of our runs still open are lost at once to the
        other replicas (a graceful shutdown has told their threads already)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._closing):  # close_all_of below closes their rows too
            task.cancel()
        async with self.db.write() as session:
            await SlackRunRepository(session).close_all_of(self.replica)
            await ReplicaRepository(session).leave(self.replica)

    async def first_time(self, key: str) -> bool:
        """True the first time a delivery key is seen, by any replica (Slack retries carry
        the same id)."""
        async with self.db.write() as session:
            return await DeliveryRepository(session).first(key)

    async def enqueue(self, delivery: str, channel: str, thread_ts: str, mention_ts: str,
                      asker: str | None) -> int | None:
        """Record a mention's Slack delivery as handled and its run as waiting, in one
        transaction (never one without the other); None if the delivery was seen before
        (Slack's retry, or another replica got it)."""
        async with self.db.write() as session:
            if not await DeliveryRepository(session).first(delivery):
                return None
            runs = SlackRunRepository(session)
            row_id = await runs.add(channel=channel, thread_ts=thread_ts,
                                    mention_ts=mention_ts, asker=asker, replica=self.replica)
            # whether it waits for its turn: asked here, not in a read of its own
            behind = await runs.earlier_live(row_id, channel, thread_ts, mention_ts,
                                             self.stale)
        self._queued_behind[row_id] = behind  # once committed: `turn` takes it
        return row_id

    @contextlib.asynccontextmanager
    async def turn(self, row_id: int, channel: str, thread_ts: str, mention_ts: str
                   ) -> AsyncIterator[None]:
        """Wait until no earlier mention (by Slack's ts) in the thread is live on any
        replica; then run the block; close the row afterwards, however the block ends.

        Rows are the only queue: a local lock could be taken in delivery order while the
        database orders by ts, and the two would deadlock on an out-of-order retry. Runs
        closing here wake local waiters at once; other replicas' are seen within a tick.
        """
        self._rows[row_id] = time.monotonic()
        try:
            waits = self._queued_behind.pop(row_id, None)  # known since enqueue
            if waits is None:
                waits = await self._earlier_live(row_id, channel, thread_ts, mention_ts)
            if waits:
                log.info("mention %s in %s/%s waits for the one before it in the thread",
                         mention_ts, channel, thread_ts)
            while waits and row_id not in self._taken:
                async with self._closed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closed.wait(), self.tick / 2)
                waits = await self._earlier_live(row_id, channel, thread_ts, mention_ts)
            yield
        finally:
            self._rows.pop(row_id, None)
            self._run_of.pop(row_id, None)
            if row_id in self._taken:  # closed by the replica that took it over
                self._taken.discard(row_id)
            elif not await self._close_row(row_id, first=True):
                task = asyncio.create_task(self._close_when_taken(row_id))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            await self._wake()

    async def _close_row(self, row_id: int, *, first: bool = False) -> bool:
        try:
            async with self.db.write() as session:
                await SlackRunRepository(session).close(row_id)
        except Exception as exc:
            if first:
                log.error("could not close shared run row %d (%s): trying again until the "
                          "database takes it", row_id, exc)
            return False
        return True

    async def _close_when_taken(self, row_id: int) -> None:
        """A run ended while the database refused: its row is closed as soon as the database
        takes it (0.5 s doubling to 5 s), so the thread's next question does not wait on a
        run that is over. At shutdown `close` closes whatever is left."""
        pause = 0.5
        while True:
            await asyncio.sleep(pause)
            if await self._close_row(row_id):
                log.info("shared run row %d closed now that the database takes it", row_id)
                await self._wake()
                return
            pause = min(5.0, pause * 2)

    async def _wake(self) -> None:
        async with self._closed:
            self._closed.notify_all()

    async def running(self, row_id: int, run_id: str, status_ts: str,
                      stream_ts: str | None = None) -> None:
        self._run_of[row_id] = run_id
        async with self.db.write() as session:
            await SlackRunRepository(session).running(row_id, run_id, status_ts, stream_ts)

    async def holds(self, row_id: int) -> bool:
        """Whether this replica still answers the run of `row_id`: asked before each of its
        Slack writes. Free while the lease is fresh; after a pause longer than the lease less
        a heartbeat, the lease is renewed first, and False if another replica took the run
        over meanwhile (it told the thread: this replica says nothing more). While the
        database cannot be reached, True: no replica can take a run over without it (and it
        is asked again at most once a tick, so an outage never slows the run's writes)."""
        now = time.monotonic()
        if now - self._renewed >= self.stale - self.heartbeat and now - self._refused >= self.tick:
            try:
                await self._renew()
            except DatabaseFault as exc:
                self._refused = time.monotonic()
                log.warning("could not renew the lease of run row %d (%s): carrying on",
                            row_id, exc)
        return row_id not in self._taken

    async def find(self, run_id: str) -> RunRef | None:
        """The run, and whether its replica is alive; None for an unknown run."""
        async with self.db.read() as session:
            row = await SlackRunRepository(session).by_run_id(run_id)
            if row is None:
                return None
            alive = await ReplicaRepository(session).alive(row.replica, self.stale)
        return RunRef(run_id, RunState(row.state), row.asker, row.replica, alive)

    async def still_running(self, run_id: str) -> bool:
        """Whether `run_id` runs now on a replica that still beats."""
        run = await self.find(run_id)
        return run is not None and run.state != RunState.DONE and run.alive

    async def request_stop(self, run_id: str, by: str) -> bool:
        """Ask the replica running `run_id` to stop it; False if it is no longer running."""
        async with self.db.write() as session:
            return await SlackRunRepository(session).request_stop(run_id, by)

    async def _earlier_live(self, row_id: int, channel: str, thread_ts: str,
                            mention_ts: str) -> bool:
        async with self.db.read() as session:
            return await SlackRunRepository(session).earlier_live(
                row_id, channel, thread_ts, mention_ts, self.stale)

    async def _renew(self) -> None:
        """`_beat`, one at a time: whoever asks while one is under way (the heartbeat, every
        run's next Slack write) waits for that one instead of starting another — under a
        busy database, hundreds of runs would otherwise each queue a write of their own."""
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.ensure_future(self._beat())
        await asyncio.shield(self._renewal)

    async def _beat(self) -> None:
        """Renew the replica's heartbeat and its runs' leases; a run of ours whose row was
        not renewed (another replica took it over while this one was paused) is stopped."""
        started = time.monotonic()
        async with self.db.write() as session:
            await ReplicaRepository(session).beat(self.replica)
            held = await SlackRunRepository(session).renew(self.replica)
        taken = {row for row, since in self._rows.items()
                 if since < started and row not in held and row not in self._taken}
        self._renewed = max(self._renewed, started)
        for row in taken:
            self._taken.add(row)
            log.warning("run row %d was taken over by another replica while this one did not "
                        "renew its lease (paused or cut off): stopping it without a word, the "
                        "other replica told the thread", row)
            if row in self._run_of:
                self._on_taken(self._run_of[row])

    async def _watch(self, on_stop: Callable[[str], object],
                     on_lost: Callable[[LostRun], Awaitable[None]]) -> None:
        last_beat = last_prune = time.monotonic()
        failing = False
        seen = self.feed.heard[STOPS] if self.feed else 0
        while True:
            if self.feed is None:
                await asyncio.sleep(self.tick)
            else:
                seen = await self.feed.wait(STOPS, self.tick, seen)
            try:
                if time.monotonic() - last_beat >= self.heartbeat:
                    await self._renew()
                    last_beat = time.monotonic()
                if self._rows:
                    await self._take_stop_requests(on_stop)
                await self._recover(on_lost)
                if time.monotonic() - last_prune >= PRUNE_SECONDS:
                    await self.prune()
                    last_prune = time.monotonic()
                self.passes += 1
                if failing:
                    log.warning("shared run bookkeeping works again")
                failing = False
            except DatabaseFault as exc:  # one line when it starts failing, not every tick
                if not failing:
                    log.error("shared run bookkeeping failed, trying again every %.0f s: %s",
                              self.tick, exc)
                failing = True
            except Exception:
                log.exception("shared run bookkeeping failed; trying again in %.0f s",
                              self.tick)

    async def _take_stop_requests(self, on_stop: Callable[[str], object]) -> None:
        async with self.db.read() as session:
            requested = await SlackRunRepository(session).stop_requests(self.replica)
        for run_id in requested:
            if run_id is not None and run_id not in self._stopped:
                self._stopped.add(run_id)
                log.info("run %s: stop requested through another replica", run_id)
                on_stop(run_id)
        self._stopped.intersection_update(requested)  # forget runs whose rows closed

    async def _recover(self, on_lost: Callable[[LostRun], Awaitable[None]]) -> None:
        async with self.db.read() as session:
            orphans = await SlackRunRepository(session).orphans(self.stale)
        for row in orphans:
            async with self.db.write() as session:  # one replica wins each row
                won = await SlackRunRepository(session).take(row.id, self.stale)
            if won:
                log.warning("run %s in %s/%s was lost with replica %s", row.run_id,
                            row.channel, row.thread_ts, row.replica)
                await on_lost(LostRun(row.channel, row.thread_ts, row.status_ts,
                                      started=row.state == RunState.RUNNING,
                                      stream_ts=row.stream_ts))

    async def prune(self) -> None:
        """Forget what no replica needs any more (the loop does this hourly)."""
        now = utcnow()
        async with self.db.write() as session:
            await DeliveryRepository(session).prune(now - KEEP_DELIVERIES)
            await SlackRunRepository(session).prune(now - KEEP_RUNS)
            await ReplicaRepository(session).prune(now - timedelta(days=1))
