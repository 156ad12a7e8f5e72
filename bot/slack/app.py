"""Build the Bolt app over the services, and run it in HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.agent.runs import Runs
from bot.app import Services, refresh_plugins
from bot.config import Settings
from bot.errors import BotError
from bot.metrics import Metrics
from bot.probes import Probes, serve_probes
from bot.slack import agent_view, approvals, connect, feedback, home, mentions, slash, uploads
from bot.slack.context import DRAIN_SECONDS, SlackContext, api_origin
from bot.slack.delivery import Redelivery
from bot.slack.front import EVENTS_PATH, slack_request_kind
from bot.slack.front_link import FrontLink, Launched, launch
from bot.slack.streaming import Streaming
from bot.slack.throttle import SlackBudgets
from bot.store.approvals import ApprovalStore
from bot.store.shared_runs import SharedRuns
from bot.store.slack_holds import SlackHolds

log = logging.getLogger(__name__)


SLACK_CALL_SECONDS = 30  # slack_sdk's default timeout for one Web API call


@dataclass
class SlackEndpoint:
    """The Bolt app with every surface registered, and what outlives a request: replica
    coordination and the runs the mentions started."""

    app: AsyncApp
    ctx: SlackContext
    shared: SharedRuns
    runs: Runs
    approver: approvals.SlackApprover
    metrics: Metrics
    signing_secret: str | None  # HTTP mode verifies each request with it
    budgets: SlackBudgets
    holds: SlackHolds
    _watching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Heartbeat, Stop requests from other replicas, runs lost with theirs (see
        bot/store/shared_runs.py); `drain` ends it."""
        await self.shared.start(on_stop=self.runs.cancel,
                                on_lost=functools.partial(mentions.tell_lost, self.ctx))
        self._watching = asyncio.create_task(self.holds.watch(self.budgets.held_elsewhere))

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Shut down: every run stops and its thread is told to ask again (mentions still
        waiting for their turn too); work still going after `grace` seconds is cancelled."""
        stopped = self.runs.shutdown()
        if stopped:
            log.info("stopping %d agent run(s) for shutdown", stopped)
        await self.ctx.finish_tasks(grace)
        if self._watching is not None:
            self._watching.cancel()
        await self.shared.close()
        if self.ctx.client.session is not None:
            await self.ctx.client.session.close()


def build_slack_app(services: Services) -> SlackEndpoint:
    """Each surface is given only the services it uses."""
    settings = services.settings
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    secret = settings.slack_signing_secret.get_secret_value() if (
        settings.slack_signing_secret) else None
    # One connection pool for every Web API call (slack_sdk opens a session, so a TCP and
    # TLS handshake, per call without one); its timeout is the SDK's default per call.
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_CALL_SECONDS))
    budgets = SlackBudgets()  # what a replica's runs may spend per workspace and method
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, session=http,
                            timeout=SLACK_CALL_SECONDS,
                            retry_handlers=[Redelivery(metrics=services.metrics,
                                                       on_rate_limited=budgets.rate_limited)])
    connect.add_filter_once(logging.getLogger("slack_bolt.AsyncApp"), connect.DropTokenNotice)
    # HTTP mode: the front has acknowledged Slack already (bot/slack/front.py), so Bolt runs
    # each listener before it responds, which lets the front's link keep a thread's
    # questions in order up to their queue rows; Socket Mode acks through Bolt, at once
    app = AsyncApp(client=client, signing_secret=secret,
                   request_verification_enabled=secret is not None,
                   process_before_response=settings.slack_app_token is None)
    holds = SlackHolds(services.db, services.changes)
    ctx = SlackContext(client=client, bot_token=token,
                       admins=frozenset(settings.bot_admin_users),
                       admin_channel=settings.bot_admin_channel,
                       api_origin=api_origin(settings.slack_api_url))
    budgets.share = lambda method, seconds: ctx.spawn(holds.record(method, seconds))
    shared = SharedRuns(services.db, feed=services.changes,
                        lease=settings.replica_lease_seconds)
    approver = approvals.SlackApprover(ctx, store=ApprovalStore(services.db),
                                       audit=services.audit,
                                       timeout=settings.approval_timeout_seconds,
                                       feed=services.changes, run_alive=shared.still_running)
    asked = mentions.register(app, ctx, shared=shared, runs=services.runs,
                              approver=approver,
                              streaming=Streaming(services.settings.slack_streaming),
                              budgets=budgets)
    agent_view.register(app, asked, prompts=services.settings.slack_suggested_prompts)
    slash.register(app, ctx, commands=services.commands)
    uploads.register(app, ctx, shared=shared, installer=services.installer,
                     audit=services.audit)
    home.register(app, ctx, plugins=services.plugins, commands=services.commands,
                  records=services.records)
    approvals.register(app, approver)
    feedback.register(app, ctx, records=services.records, metrics=services.metrics)
    return SlackEndpoint(app, ctx, shared, services.runs, approver, services.metrics, secret,
                         budgets, holds)


def _time_the_acks(app: AsyncApp, metrics: Metrics) -> None:
    """Socket Mode: every request's time to its ack, by kind (Bolt returns once the
    listener acked)."""
    @app.middleware
    async def timed(body: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        response = await next()
        metrics.ack_seconds.labels(kind=slack_request_kind(body)).observe(
            time.perf_counter() - started)
        return response


async def serve_http(endpoint: SlackEndpoint, *, port: int, host: str = "0.0.0.0",
                     probes: Probes | None = None, launched: Launched | None = None,
                     on_lost: Callable[[], None] = lambda: None) -> FrontLink:
    """Serve Slack's requests (events, commands, interactivity at /slack/events; the probes
    and metrics beside them) through the front (bot/slack/front.py): the one `bot run`
    forked, else one started here in a thread."""
    if launched is None:
        assert endpoint.signing_secret is not None
        launched = launch(host, port, signing_secret=endpoint.signing_secret,
                          probes=probes is not None and not probes.metrics_port, fork=False)
    link = FrontLink(launched, endpoint.app, endpoint.metrics, probes, on_lost=on_lost)
    try:
        await link.start()
    except BaseException:
        await link.close()
        raise
    return link


async def run(services: Services, front: Launched | None = None) -> None:
    """`bot run`: Socket Mode with an app token, else HTTP on HOST:PORT through `front`
    (forked at start, see bot/slack/front_link.py); until SIGTERM or SIGINT, which are
    heard in every state (connecting to Slack included)."""
    stop = _stop_on_signals()
    log.info("%s", messages.locations(services.db.label, services.settings.plugins_dir))
    endpoint = build_slack_app(services)
    try:
        identity = await connect.check_token(endpoint.ctx.client, stop)
    except connect.Stopped:
        return
    log.info("signed in to Slack as %s in %s", identity.get("user"), identity.get("team"))
    watcher = asyncio.create_task(refresh_plugins(services))
    await endpoint.start()
    probes = Probes(services.db, services.metrics, services.runs, services.plugins,
                    stopping=stop, approvals_pending=lambda: endpoint.approver.pending,
                    host=services.settings.host, metrics_port=services.settings.metrics_port)
    servers = contextlib.AsyncExitStack()  # closed after the drain: /readyz says why
    try:
        await services.plugins.join(endpoint.shared.replica)
        if services.settings.slack_app_token is not None:
            await _serve_socket_mode(endpoint, services.settings.slack_app_token
                                     .get_secret_value(), stop, probes, servers,
                                     port=services.settings.port)
        else:
            await _serve_http_mode(endpoint, services.settings, stop, probes, servers, front)
    except connect.Stopped:
        pass
    finally:
        watcher.cancel()
        await endpoint.drain()
        await services.plugins.leave()
        await servers.aclose()
        log.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve_socket_mode(endpoint: SlackEndpoint, app_token: str, stop: asyncio.Event,
                             probes: Probes, servers: contextlib.AsyncExitStack, *,
                             port: int) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    _time_the_acks(endpoint.app, endpoint.metrics)  # in HTTP mode the front times them
    handler = AsyncSocketModeHandler(endpoint.app, app_token)
    connect.add_filter_once(handler.client.logger, connect.OneLine)
    probes.slack_connected = handler.client.is_connected
    await _serve_probes_alone(probes, servers, default_port=port)
    try:
        handler.client.wss_uri = await connect.socket_url(endpoint.ctx.client, app_token,
                                                          stop)
        await connect.until_stopped(handler.connect_async(), stop)
        log.info("connected to Slack in Socket Mode")
        await stop.wait()
    finally:
        await handler.close_async()


async def _serve_http_mode(endpoint: SlackEndpoint, settings: Settings, stop: asyncio.Event,
                           probes: Probes, servers: contextlib.AsyncExitStack,
                           front: Launched | None) -> None:
    link = await serve_http(endpoint, port=settings.port, host=settings.host, probes=probes,
                            launched=front, on_lost=stop.set)
    servers.push_async_callback(link.close)
    log.info("listening for Slack on http://%s:%d%s", settings.host, link.port, EVENTS_PATH)
    if settings.metrics_port:
        await _serve_probes_alone(probes, servers, default_port=settings.metrics_port)
    await stop.wait()
    if link.lost:  # exit non-zero once drained: the orchestrator restarts the bot whole
        raise BotError(messages.front_stopped())


async def _serve_probes_alone(probes: Probes, servers: contextlib.AsyncExitStack, *,
                              default_port: int) -> None:
    """The probes and metrics on METRICS_PORT (else `default_port`), closed with the rest."""
    port = probes.metrics_port or default_port
    servers.push_async_callback((await serve_probes(probes, host=probes.host,
                                                    port=port)).cleanup)
    log.info("health and metrics on http://%s:%d (/healthz, /readyz, /metrics)",
             probes.host, port)
