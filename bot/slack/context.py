"""What every Slack surface needs: the services, who the admins are, and shared helpers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent.approvals import Approver
from bot.app import Services
from bot.commands import PluginCommands
from bot.store.shared_runs import SharedRuns

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0  # within Kubernetes' default 30 s grace period, with room to spare


@dataclass
class SlackContext:
    services: Services
    client: AsyncWebClient
    bot_token: str
    admins: frozenset[str]
    admin_channel: str | None
    api_origin: str
    commands: PluginCommands
    shared: SharedRuns
    approver: Approver | None = None
    home_viewers: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def is_admin(self, user: str | None) -> bool:
        return user is not None and user in self.admins

    def spawn(self, coroutine: object) -> None:
        """Run work after Slack has been acknowledged, keeping a reference to the task."""
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Shut down: every run stops and its thread is told to ask again (mentions still
        waiting for their turn too); work still going after `grace` seconds is cancelled."""
        stopped = self.services.runs.shutdown()
        if stopped:
            log.info("stopping %d agent run(s) for shutdown", stopped)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.shared.close()


def api_origin(url: str) -> str:
    """`scheme://host` of SLACK_API_URL: where, besides Slack's own hosts, the token may go."""
    parts = urlsplit(url)
    return f"{parts.scheme or 'https'}://{parts.hostname or 'slack.com'}"
