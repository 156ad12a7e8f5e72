"""One pace for everything the bot keeps editing in Slack while a run goes on (the status
message, a streamed answer): each message is edited at most once an interval, and what
comes in between waits for one call at the interval's end (`Throttle`); and one budget per
workspace for the edits that only show progress (`WorkspaceBudget`), since Slack limits
`chat.update` per workspace, not per message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Throttle:
    def __init__(self, interval: float, action: Callable[[], Awaitable[object]]) -> None:
        self.interval = interval
        self.action = action  # calls `ran()` when it sends
        self._last = 0.0
        self._timer: asyncio.Task[None] | None = None

    def ran(self) -> None:
        """The action just sent: the next interval starts now."""
        self._last = time.monotonic()

    def later(self) -> None:
        """Run the action once the interval since the last send is over (at once if it
        is); one pending call covers every change made before it runs."""
        if self._timer is None:
            wait = max(0.0, self.interval - (time.monotonic() - self._last))
            self._timer = asyncio.ensure_future(self._after(wait))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        await self.action()


class WorkspaceBudget:
    """A token bucket per workspace for progress edits (`chat.update` is Tier 3: about 50 a
    minute per workspace): `take` says whether one may go now. An edit refused is not lost
    — the message keeps its lines and the next edit, or the final one (which never asks),
    shows them — so 200 runs at once cost about one progress edit each, not thousands."""

    def __init__(self, per_minute: float = 50, burst: float = 20) -> None:
        self.rate, self.burst = per_minute / 60, burst
        self._tokens: dict[str, tuple[float, float]] = {}  # team -> tokens, when counted

    def take(self, team: str | None) -> bool:
        now = time.monotonic()
        tokens, then = self._tokens.get(team or "", (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self._tokens[team or ""] = (tokens, now)
            return False
        self._tokens[team or ""] = (tokens - 1, now)
        return True
