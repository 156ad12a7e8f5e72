"""Reaching Slack at start: the token is checked (`auth.test`), Socket Mode's URL is
fetched, and the socket connected — each retried with a backoff and one line per retry
while Slack is unreachable, and each given up at once when the process is told to stop.
A token Slack rejects is a ConfigError: one line, exit code 2."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")
REJECTED = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
            "token_expired", "not_allowed_token_type", "missing_scope"}
FIRST_DELAY, MAX_DELAY = 1.0, 30.0


class Stopped(Exception):
    """The process was told to stop before Slack answered."""


async def check_token(client: AsyncWebClient, stop: asyncio.Event) -> dict[str, Any]:
    """`auth.test` for the bot token: who the bot is in which workspace."""
    response = await retrying(lambda: client.auth_test(), what="auth.test",
                              setting="SLACK_BOT_TOKEN", url=client.base_url, stop=stop)
    return dict(response.data) if isinstance(response.data, dict) else {}


async def socket_url(client: AsyncWebClient, app_token: str, stop: asyncio.Event) -> str:
    """A Socket Mode URL from `apps.connections.open` (the app-level token's check)."""
    response = await retrying(lambda: client.apps_connections_open(app_token=app_token),
                              what="apps.connections.open", setting="SLACK_APP_TOKEN",
                              url=client.base_url, stop=stop)
    return str(response["url"])


async def retrying(call: Callable[[], Awaitable[T]], *, what: str, setting: str, url: str,
                   stop: asyncio.Event) -> T:
    """`call` until it answers; a rejected token raises ConfigError, a stop raises
    Stopped, anything else is one line and another try after a growing pause."""
    delay = FIRST_DELAY
    while not stop.is_set():
        try:
            return await until_stopped(call(), stop)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in REJECTED:
                raise ConfigError(messages.slack_token_rejected(setting, error)) from None
            problem = f"{what} failed: {error or exc.response.status_code}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            problem = messages.slack_unreachable(url, exc)
        log.warning("%s; trying again in %.0f s", problem, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            delay = min(delay * 2, MAX_DELAY)
    raise Stopped


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Await `awaitable`, or raise Stopped (cancelling it) as soon as `stop` is set."""
    task = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Stopped
    return task.result()


class OneLine(logging.Filter):
    """slack_sdk's Socket Mode client logs a traceback for every failed reconnect; an
    operator needs the one line, the traceback stays at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not log.isEnabledFor(logging.DEBUG):
            record.exc_info = None
            record.exc_text = None
        return True


class DropTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client's token wins: it is the
    same token, so the warning is noise at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def add_filter_once(logger: logging.Logger, kind: type[logging.Filter]) -> None:
    if not any(isinstance(existing, kind) for existing in logger.filters):
        logger.addFilter(kind())
