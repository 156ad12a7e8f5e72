"""One pace for everything the bot keeps editing in Slack while a run goes on (the status
message, a streamed answer): Slack rate-limits `chat.update` and `chat.appendStream` per
message, so each goes out at most once an interval, and what comes in between waits for
one call at the interval's end."""

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

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

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
