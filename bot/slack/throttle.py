"""One pace for everything the bot keeps editing in Slack while a run goes on (the status
message, a streamed answer): each message is edited at most once an interval, and what
comes in between waits for one call at the interval's end (`Throttle`); and budgets per
workspace and method for the calls a run can do without (`SlackBudgets`), since Slack
limits each method per workspace, not per message: progress edits (`chat.update`),
appends to a stream (`chat.appendStream`) and starting one (`chat.startStream`). A call
refused by its budget is not lost: the next edit, the stream's stop or the posted answer
carries what it would have shown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.slack.delivery import DELIVERY_SECONDS


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
        self._held_until = 0.0  # Slack's last Retry-After, for teams not counted yet

    async def wait(self, team: str | None, *, longest: float) -> None:
        """Until a token is taken (or `longest` seconds passed: then it goes anyway)."""
        deadline = time.monotonic() + longest
        while True:
            if self.take(team) or time.monotonic() >= deadline:
                return
            await asyncio.sleep(min(1.0, max(0.05, (1 - self.available(team)) / self.rate)))

    def hold(self, seconds: float) -> None:
        """Slack answered 429 with `Retry-After: seconds` (a client is one workspace's):
        nothing more may go before then (a longer hold already in force stays)."""
        now = time.monotonic()
        for team in list(self._tokens):
            self._tokens[team] = (min(self.available(team), -seconds * self.rate), now)
        self._held_until = max(self._held_until, now + seconds)

    def available(self, team: str | None) -> float:
        """The calls that may go now (negative while Slack's Retry-After holds them)."""
        now = time.monotonic()
        fresh = (self.burst, now) if now >= self._held_until else (0.0, self._held_until)
        tokens, then = self._tokens.get(team or "", fresh)
        return min(self.burst, tokens + (now - then) * self.rate)

    def take(self, team: str | None, *, keep: float = 0) -> bool:
        """Whether a call may go now (a token taken), leaving at least `keep` tokens for
        calls that must go (a status's last edit waits for one: `wait`)."""
        now = time.monotonic()
        tokens = self.available(team)
        if tokens < 1 + keep:
            self._tokens[team or ""] = (tokens, now)
            return False
        self._tokens[team or ""] = (tokens - 1, now)
        return True


# Slack's tiers for the methods a run may skip or defer, per workspace: Tier 2 about 20 a
# minute, Tier 3 about 50, Tier 4 about 100 (docs.slack.dev/apis/web-api/rate-limits).
# chat.stopStream (Tier 2) is never skipped: it follows a start, which is budgeted.
TIERS = {"chat.startStream": (20, 10), "chat.update": (50, 20), "chat.appendStream": (100, 30)}
RESERVED = 5  # tokens optional calls leave for the ones that must go


class SlackBudgets:
    """A `WorkspaceBudget` per method in TIERS, shared by every run of a replica; Slack's
    429s are shared with the other replicas through `share` (bot/store/slack_holds.py)."""

    def __init__(self, share: Callable[[str, float], object] = lambda method, seconds: None
                 ) -> None:
        self.methods = {method: WorkspaceBudget(per_minute, burst)
                        for method, (per_minute, burst) in TIERS.items()}
        self.share = share  # (method, Retry-After): tell the other replicas

    def take(self, method: str, team: str | None) -> bool:
        """An optional call (progress, an append, a stream's start): whether it may go,
        leaving RESERVED tokens for the calls that must."""
        return self.methods[method].take(team, keep=RESERVED)

    async def wait(self, method: str, team: str | None) -> None:
        """A call that must go (a status's last edit): when the budget allows, at worst
        after DELIVERY_SECONDS."""
        await self.methods[method].wait(team, longest=DELIVERY_SECONDS)

    def rate_limited(self, method: str, seconds: float) -> None:
        """Slack's 429 on `method`: its optional calls wait it out instead of earning more,
        here and on the other replicas."""
        if method in self.methods:
            self.methods[method].hold(seconds)
            self.share(method, seconds)

    def held_elsewhere(self, method: str, seconds: float) -> None:
        """Another replica (or this one, heard back) got a 429 on `method`: hold it for the
        `seconds` left."""
        if method in self.methods:
            self.methods[method].hold(seconds)
