"""Drive the bot's Slack endpoint like Slack does: signed events, commands and clicks."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot import messages
from bot.app import Services
from bot.slack.app import SlackEndpoint
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, sign

_ids = itertools.count(1)


@dataclass
class SlackSender:
    """What Slack sends one endpoint (in this process, or a `bot run` subprocess), and
    what the fake Slack saw the bot do. Senders for replicas of one bot share `ts`."""

    url: str
    slack: FakeSlack
    session: aiohttp.ClientSession
    ts: itertools.count = field(default_factory=lambda: itertools.count(100))

    async def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
                   signed: bool = True) -> aiohttp.ClientResponse:
        all_headers = {"Content-Type": content_type, **(sign(body) if signed else {}),
                       **(headers or {})}
        async with self.session.post(self.url, data=body.encode(),
                                     headers=all_headers) as response:
            await response.read()
            return response

    async def event(self, event: dict[str, Any], *, event_id: str | None = None,
                    headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        body = json.dumps({"token": "legacy", "team_id": "T0TEST", "api_app_id": "A0TEST",
                           "type": "event_callback", "event_id": event_id or
                           f"Ev{next(_ids):06d}", "event_time": int(time.time()),
                           "event": event})
        return await self.post(body, "application/json", headers=headers)

    def new_ts(self) -> str:
        return f"1700000000.{next(self.ts):06d}"

    async def mention(self, text: str, *, user: str = "U_ASKER", channel: str = "C_INC",
                      thread_ts: str | None = None, event_id: str | None = None
                      ) -> tuple[str, aiohttp.ClientResponse]:
        ts = self.new_ts()
        event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts,
                 "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, await self.event(event, event_id=event_id)

    async def command(self, text: str, *, user: str) -> tuple[aiohttp.ClientResponse, str]:
        response_path = f"/response/{next(_ids)}"
        body = urlencode({"token": "legacy", "team_id": "T0TEST", "channel_id": "C_INC",
                          "user_id": user, "user_name": user.lower(), "command": "/plugin",
                          "text": text, "response_url": self.slack.url + response_path,
                          "trigger_id": "1.2.3", "api_app_id": "A0TEST"})
        return await self.post(body, "application/x-www-form-urlencoded"), response_path

    def answers(self, thread_ts: str) -> list[str]:
        """What the bot posted in a thread, besides its "Working on it…" placeholder."""
        return [c["text"] for c in self.slack.calls_to("chat.postMessage")
                if c.get("thread_ts") == thread_ts and c["text"] != "Working on it…"]

    def finished_status(self) -> str | None:
        """The last status update that says how a run ended (it comes after the answer)."""
        return finished_status(self.slack)

    def status_calls(self) -> list[dict[str, Any]]:
        return status_calls(self.slack)

    def stop_button(self, *, after: int = 0) -> str | None:
        return stop_button(self.slack, after=after)

    def responses(self, path: str) -> list[dict[str, Any]]:
        return self.slack.responses.get(path, [])

    async def click(self, action_id: str, value: str, *, user: str,
                    channel: str = "C_INC") -> tuple[aiohttp.ClientResponse, str]:
        response_path = f"/response/{next(_ids)}"
        payload = {"type": "block_actions", "team": {"id": "T0TEST"},
                   "user": {"id": user, "team_id": "T0TEST"}, "api_app_id": "A0TEST",
                   "token": "legacy", "trigger_id": "1.2.3",
                   "response_url": self.slack.url + response_path,
                   "channel": {"id": channel}, "container": {"type": "message"},
                   "actions": [{"type": "button", "action_id": action_id, "value": value,
                                "block_id": "b", "action_ts": str(time.time())}]}
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded"), response_path


def status_calls(slack: FakeSlack) -> list[dict[str, Any]]:
    """Status messages as posted (each carries its Stop button from the start) and
    edited, in the order Slack got them."""
    return [c.args for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]


def stop_button(slack: FakeSlack, *, after: int = 0) -> str | None:
    """The run id on the first Stop button a status message has shown (after the first
    `after` of `status_calls`)."""
    return next((e["value"] for c in status_calls(slack)[after:]
                 for b in c.get("blocks", []) if b.get("type") == "actions"
                 for e in b.get("elements", []) if e.get("action_id") == "stop_run"), None)


@dataclass(kw_only=True)
class SlackBot(SlackSender):
    """A bot endpoint running in the test's own process, with its services."""

    ai: FakeOpenAI
    services: Services
    endpoint: SlackEndpoint


async def until(predicate: Callable[[], Any], seconds: float = 10) -> Any:
    """Poll until `predicate()` (awaited, when it is a coroutine function) is truthy: the
    bot answers Slack in the background."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the bot")


def logged(caplog: Any, text: str) -> bool:
    """Whether a log record so far contains `text`: the positive marker a test waits for
    before it asserts that something did not happen."""
    return any(text in record.getMessage() for record in caplog.records)


ENDINGS = (messages.STATUS_DONE, messages.STATUS_STOPPED, messages.STATUS_INTERRUPTED,
           messages.STATUS_FAILED, messages.STATUS_UNDELIVERED)


def finished_status(slack: FakeSlack) -> str | None:
    texts = [c["text"] for c in slack.calls_to("chat.update") if c["text"].startswith(ENDINGS)]
    return texts[-1] if texts else None
