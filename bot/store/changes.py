"""Changes other processes made, heard at once on PostgreSQL: one connection per process
LISTENs on `bot_changes`, where triggers NOTIFY a topic at commit — `plugins` for every
write to the plugin tables (migration 0009), `approvals` for a decision and `stops` for a
Stop request (0011), `slack_holds` for a Slack 429 (0019). On SQLite, or while that
connection is down, `wait` is plain polling: it returns after the interval, and the caller
looks anyway.

Each topic counts what was heard; a waiter passes the count it has seen, so a change
heard while it was busy is not missed, and any number of waiters hear the same one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import make_url

from bot.store import Database

log = logging.getLogger(__name__)
CHANNEL = "bot_changes"
PLUGINS, APPROVALS, STOPS, SLACK_HOLDS = "plugins", "approvals", "stops", "slack_holds"
RECONNECT_SECONDS = 1.0


class ChangeFeed:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.heard: defaultdict[str, int] = defaultdict(int)  # topic -> changes heard
        self._changed = asyncio.Event()  # set, and replaced, at every change heard
        self._connection: Any = None
        self._wanted = False  # `start` was called: reconnect after a loss
        self._failing = False  # a failure to LISTEN is logged once, not every poll
        self._connecting = asyncio.Lock()
        self._last_try = 0.0

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def start(self) -> bool:
        """LISTEN, on PostgreSQL; False (polling only) elsewhere or when it cannot."""
        if self.db.is_sqlite:
            return False
        self._wanted = True
        async with self._connecting:
            if self.listening:
                return True
            self._last_try = time.monotonic()
            return await self._connect()

    async def _connect(self) -> bool:
        import asyncpg

        url = make_url(self.db.url).set(drivername="postgresql")
        try:
            self._connection = await asyncpg.connect(url.render_as_string(hide_password=False))
            await self._connection.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            if not self._failing:
                log.warning("cannot LISTEN for changes (%s): polling only until it can", exc)
            self._connection, self._failing = None, True
            return False
        if self._failing:
            log.info("listening for changes on the database again")
        self._connection.add_termination_listener(self._on_lost)
        self._failing = False
        return True

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._hear(payload)

    def _on_lost(self, connection: Any) -> None:
        if not self._wanted:  # closed on purpose (shutdown)
            return
        log.warning("the LISTEN connection to the database was lost: polling until it is back")
        self._connection = None
        self._hear(PLUGINS, APPROVALS, STOPS, SLACK_HOLDS)  # look now: one may be missed

    def _hear(self, *topics: str) -> None:
        """Count the change and wake every waiter (synchronously: nothing to schedule,
        so no wake-up can be lost)."""
        for topic in topics:
            self.heard[topic] += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, topic: str, seconds: float, seen: int) -> int:
        """Until `topic` has changed since `seen` (a count `wait` returned), or `seconds`
        pass; the count to pass next time."""
        if self._wanted and not self.listening and \
                time.monotonic() - self._last_try >= RECONNECT_SECONDS:
            await self.start()  # reconnect after a lost connection
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.heard[topic] == seen and (remaining := deadline - loop.time()) > 0:
            changed = self._changed  # taken right after the check: no await between
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return self.heard[topic]

    async def close(self) -> None:
        self._wanted = False
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
