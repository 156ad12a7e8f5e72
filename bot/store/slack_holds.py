"""Slack's 429s, shared by the replicas: Slack limits each Web API method per workspace, so
a `Retry-After` answered to one replica is every replica's. The replica that got it records
until when the method is held (`record`); every replica hears of it (`watch`: at once on
PostgreSQL, through the `slack_holds` NOTIFY of migration 0019; else at its next poll) and
holds the method's optional calls as long (bot/slack/throttle.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from bot.errors import DatabaseFault
from bot.store import Database
from bot.store.changes import SLACK_HOLDS, ChangeFeed
from bot.store.models import utcnow
from bot.store.repositories import SlackRateHoldRepository

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0  # without NOTIFY (SQLite, or the LISTEN connection down)


class SlackHolds:
    def __init__(self, db: Database, feed: ChangeFeed | None = None) -> None:
        self.db = db
        self.feed = feed
        self._failing = False

    async def record(self, method: str, seconds: float) -> None:
        """Slack answered `method` with 429 and `Retry-After: seconds`: hold it everywhere
        (best effort: this replica holds it anyway)."""
        try:
            async with self.db.write() as session:
                await SlackRateHoldRepository(session).hold(
                    method, utcnow() + timedelta(seconds=seconds))
        except DatabaseFault as exc:
            log.warning("Slack's 429 on %s is not shared with the other replicas: %s",
                        method, exc)

    async def current(self) -> dict[str, float]:
        """Each held method and the seconds left."""
        async with self.db.read() as session:
            holds = await SlackRateHoldRepository(session).current()
        now = utcnow()
        return {method: (until - now).total_seconds() for method, until in holds.items()}

    async def watch(self, hold: Callable[[str, float], None]) -> None:
        """Until cancelled: every hold any replica records, handed to `hold(method,
        seconds left)` as it is heard (the ones already current at once)."""
        seen = self.feed.heard[SLACK_HOLDS] if self.feed is not None else 0
        while True:
            try:
                for method, seconds in (await self.current()).items():
                    hold(method, seconds)
                if self._failing:
                    log.info("reading the replicas' Slack holds works again")
                self._failing = False
            except DatabaseFault as exc:
                if not self._failing:
                    log.warning("cannot read the replicas' Slack holds: %s", exc)
                self._failing = True
            if self.feed is None:
                await asyncio.sleep(POLL_SECONDS)
            else:
                seen = await self.feed.wait(SLACK_HOLDS, POLL_SECONDS, seen)
