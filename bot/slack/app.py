"""Build the Bolt app over the services, and run it in HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Services, refresh_plugins
from bot.commands import PluginCommands
from bot.slack import approvals, home, mentions, slash, uploads
from bot.slack.context import SlackContext, api_origin
from bot.store.shared_runs import SharedRuns

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def build_slack_app(services: Services) -> tuple[AsyncApp, SlackContext]:
    settings = services.settings
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, retry_handlers=[
        # slack_sdk retries only connection errors by default; 429s must be added.
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2)])
    secret = settings.slack_signing_secret.get_secret_value() if (
        settings.slack_signing_secret) else None
    app = AsyncApp(client=client, signing_secret=secret,
                   request_verification_enabled=secret is not None)
    ctx = SlackContext(services=services, client=client, bot_token=token,
                       admins=frozenset(settings.bot_admin_users),
                       admin_channel=settings.bot_admin_channel,
                       api_origin=api_origin(settings.slack_api_url),
                       commands=PluginCommands(services.plugins, services.installer),
                       shared=SharedRuns(services.db))
    approver = approvals.SlackApprover(ctx, timeout=settings.approval_timeout_seconds)
    ctx.approver = approver  # passed to every run the mentions start
    for surface in (mentions, slash, uploads, home):
        surface.register(app, ctx)
    approvals.register(app, approver)
    return app, ctx


async def start_shared_runs(ctx: SlackContext) -> None:
    """Heartbeat, Stop requests from other replicas, runs lost with theirs (see
    bot/slack/shared_runs.py); `drain` ends it."""
    await ctx.shared.start(on_stop=ctx.services.runs.cancel,
                           on_lost=functools.partial(mentions.tell_lost, ctx))


async def serve_http(app: AsyncApp, *, port: int, host: str = "0.0.0.0"
                     ) -> tuple[web.AppRunner, int]:
    """Start the HTTP endpoint (events, commands, interactivity at /slack/events)."""
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=port), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound


async def run(services: Services) -> None:
    """`bot run`: Socket Mode with an app token, else HTTP on PORT; until SIGTERM/SIGINT."""
    settings = services.settings
    app, ctx = build_slack_app(services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(refresh_plugins(services))
    await start_shared_runs(ctx)
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
            handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
            await handler.connect_async()
            log.info("connected to Slack in Socket Mode")
            await stop.wait()
            await handler.close_async()
        else:
            runner, port = await serve_http(app, port=settings.port)
            log.info("listening for Slack on http://0.0.0.0:%d%s", port, EVENTS_PATH)
            await stop.wait()
            await runner.cleanup()
    finally:
        watcher.cancel()
        await ctx.drain()
        log.info("stopped")
