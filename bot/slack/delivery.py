"""How every Slack Web API call survives Slack: one retry policy on the client, so no
message is lost to a few seconds of 5xx, a dropped connection or a rate limit.

- HTTP 429 waits what `Retry-After` says (Slack's rate limits are per method and
  workspace; waiting less only earns another 429);
- 500, 502, 503, 504 and a dropped connection are tried again after a growing pause
  (0.25 s doubling to 8 s, with jitter so that replicas do not retry in step);
- all of it within DELIVERY_SECONDS of the call's first failure: a call that cannot go
  through by then raises as it would have, and the caller says so.

Reaching Slack at start (`auth.test`, `apps.connections.open`) is not retried here:
bot/slack/connect.py retries it with one log line per attempt, so an operator sees why the
bot does not start."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics import Metrics

log = logging.getLogger(__name__)
DELIVERY_SECONDS = 120.0
FIRST_PAUSE, LONGEST_PAUSE = 0.25, 8.0
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
DROPPED = (ServerConnectionError, ServerDisconnectedError, ClientOSError)
# what a call may still raise once retried: Slack's refusal, a connection that kept
# dropping, or no answer in time (which may have gone through: the caller decides)
FAILED = (SlackApiError, *DROPPED, TimeoutError)
AT_START = frozenset({"auth.test", "apps.connections.open"})  # connect.py retries these


class Redelivery(AsyncRetryHandler):
    """slack_sdk's retry hook: it asks `can_retry_async` after each failed attempt and
    awaits `prepare_for_next_attempt_async` before the next one."""

    def __init__(self, budget: float = DELIVERY_SECONDS, metrics: Metrics | None = None,
                 on_rate_limited: Callable[[str, float], object] | None = None) -> None:
        super().__init__(max_retry_count=1_000)  # bounded by time, not by count
        self.budget = budget
        self.metrics = metrics
        self.on_rate_limited = on_rate_limited  # (method, Retry-After): the budgets

    async def can_retry_async(self, *, state: RetryState, request: HttpRequest,
                              response: HttpResponse | None = None,
                              error: Exception | None = None) -> bool:
        reason = _reason(response, error)
        if reason is None or _method(request) in AT_START:
            return False
        values = state.custom_values = state.custom_values or {}
        started = values.setdefault("started", time.monotonic())
        pause = _pause(state.current_attempt, response)
        if time.monotonic() - started + pause > self.budget:
            log.warning("Slack %s still failing (%s) after %.0f s: giving up", _method(request),
                        reason, time.monotonic() - started)
            return False
        values["pause"] = pause
        if reason == "ratelimited" and self.on_rate_limited is not None:
            self.on_rate_limited(_method(request), pause)
        if state.current_attempt == 0:
            log.info("Slack %s failed (%s): trying again for up to %.0f s", _method(request),
                     reason, self.budget)
        if self.metrics is not None:
            self.metrics.slack_retries.labels(reason=reason).inc()
        return True

    async def prepare_for_next_attempt_async(self, *, state: RetryState,
                                             request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        await asyncio.sleep((state.custom_values or {}).get("pause", FIRST_PAUSE))
        state.increment_current_attempt()


def _reason(response: HttpResponse | None, error: Exception | None) -> str | None:
    if response is not None and response.status_code == 429:
        return "ratelimited"
    if response is not None and response.status_code in TRANSIENT_STATUS:
        return "server_error"
    if isinstance(error, DROPPED):
        return "connection"
    return None


def _pause(attempt: int, response: HttpResponse | None) -> float:
    if response is not None and response.status_code == 429:
        return retry_after(response) + random.uniform(0, 0.25)
    backoff: float = min(LONGEST_PAUSE, FIRST_PAUSE * 2.0 ** attempt)
    return backoff * random.uniform(0.75, 1.25)


def retry_after(response: HttpResponse) -> float:
    """Slack's `Retry-After` (whole seconds); 1 s when it is missing or unreadable."""
    for key, values in response.headers.items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) and values else values
            try:
                return max(0.0, float(str(value)))
            except ValueError:
                break
    return 1.0


def _method(request: HttpRequest) -> str:
    return request.url.rsplit("/", 1)[-1].split("?", 1)[0]
