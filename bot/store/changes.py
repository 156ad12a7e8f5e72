"""Changes other processes made, heard at once on PostgreSQL: a dedicated connection
LISTENs on `bot_changes` (migration 0009 makes every write to the plugin tables NOTIFY it).
On SQLite, or while that connection is down, `wait` is plain polling: it returns after the
interval, and the caller looks anyway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.engine import make_url

from bot.store import Database

log = logging.getLogger(__name__)
CHANNEL = "bot_changes"


class ChangeFeed:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.heard = asyncio.Event()
        self._connection: Any = None
        self._failing = False  # a failure to LISTEN is logged once, not every poll

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def start(self) -> bool:
        """LISTEN, on PostgreSQL; False (polling only) elsewhere or when it cannot."""
        if self.db.is_sqlite:
            return False
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
        self.heard.set()

    def _on_lost(self, connection: Any) -> None:
        log.warning("the LISTEN connection to the database was lost: polling until it is back")
        self._connection = None
        self.heard.set()  # look now: a change may have been missed

    async def wait(self, seconds: float) -> None:
        """Until a change is heard, or `seconds` pass (then the caller polls)."""
        if not self.listening and not self.db.is_sqlite:
            await self.start()  # reconnect after a lost connection
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.heard.wait(), seconds)
        self.heard.clear()

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
