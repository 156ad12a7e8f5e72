"""What every Slack surface needs: the Web API client, who the admins are, and the work
started after Slack was acknowledged. The services each surface uses are given to its
`register` by name (bot/slack/app.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0  # within Kubernetes' default 30 s grace period, with room to spare


@dataclass
class SlackContext:
    client: AsyncWebClient
    bot_token: str
    admins: frozenset[str]
    admin_channel: str | None
    api_origin: str
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def is_admin(self, user: str | None) -> bool:
        return user is not None and user in self.admins

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run work after Slack has been acknowledged, keeping a reference to the task."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish_tasks(self, grace: float) -> None:
        """Wait up to `grace` seconds for the spawned work, then cancel what still runs."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def api_origin(url: str) -> str:
    """`scheme://host` of SLACK_API_URL: where, besides Slack's own hosts, the token may go."""
    parts = urlsplit(url)
    return f"{parts.scheme or 'https'}://{parts.hostname or 'slack.com'}"
