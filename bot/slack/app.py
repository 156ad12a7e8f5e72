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
from aiohttp import web
from aiohttp.typedefs import Handler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.agent.runs import Runs
from bot.app import Services, refresh_plugins
from bot.config import Settings
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.probes import Probes, hide_versions, serve_probes, slack_request_kind
from bot.slack import agent_view, approvals, connect, feedback, home, mentions, slash, uploads
from bot.slack.context import DRAIN_SECONDS, SlackContext, api_origin
from bot.slack.delivery import Redelivery
from bot.slack.streaming import Streaming
from bot.slack.throttle import SlackBudgets
from bot.store.approvals import ApprovalStore
from bot.store.shared_runs import SharedRuns

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


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

    async def start(self) -> None:
        """Heartbeat, Stop requests from other replicas, runs lost with theirs (see
        bot/store/shared_runs.py); `drain` ends it."""
        await self.shared.start(on_stop=self.runs.cancel,
                                on_lost=functools.partial(mentions.tell_lost, self.ctx))

    async def drain(self, grace: float = DRAIN_SECONDS) -> None:
        """Shut down: every run stops and its thread is told to ask again (mentions still
        waiting for their turn too); work still going after `grace` seconds is cancelled."""
        stopped = self.runs.shutdown()
        if stopped:
            log.info("stopping %d agent run(s) for shutdown", stopped)
        await self.ctx.finish_tasks(grace)
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
    app = AsyncApp(client=client, signing_secret=secret,
                   request_verification_enabled=secret is not None)
    ctx = SlackContext(client=client, bot_token=token,
                       admins=frozenset(settings.bot_admin_users),
                       admin_channel=settings.bot_admin_channel,
                       api_origin=api_origin(settings.slack_api_url))
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
    _time_the_acks(app, services.metrics)
    return SlackEndpoint(app, ctx, shared, services.runs, approver)


def _time_the_acks(app: AsyncApp, metrics: Metrics) -> None:
    """Every request's time to its ack, by kind (Bolt returns once the listener acked)."""
    @app.middleware
    async def timed(body: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        response = await next()
        metrics.ack_seconds.labels(kind=slack_request_kind(body)).observe(
            time.perf_counter() - started)
        return response


async def serve_http(app: AsyncApp, *, port: int, host: str = "0.0.0.0",
                     probes: Probes | None = None) -> tuple[web.AppRunner, int]:
    """Start the HTTP endpoint (events, commands, interactivity at /slack/events; the
    probes and metrics beside them)."""
    web_app = app.web_app(path=EVENTS_PATH, port=port)
    hide_versions(web_app)
    if probes is not None:
        if not probes.metrics_port:  # else on a port of their own
            probes.add_routes(web_app)
        web_app.middlewares.append(_refuse_while_stopping(probes.stopping))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(messages.port_unavailable(host, port, exc)) from None
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound


def _refuse_while_stopping(stopping: asyncio.Event) -> Any:
    """While the bot drains, Slack's requests get 503 (Slack retries them, and the load
    balancer, told by /readyz, sends them to another replica); the probes still answer."""
    @web.middleware
    async def refuse(request: web.Request, handler: Handler) -> web.StreamResponse:
        if stopping.is_set() and request.path == EVENTS_PATH:
            return web.Response(status=503, text=messages.probe_stopping())
        return await handler(request)

    return refuse


async def run(services: Services) -> None:
    """`bot run`: Socket Mode with an app token, else HTTP on HOST:PORT; until SIGTERM or
    SIGINT, which are heard in every state (connecting to Slack included)."""
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
            await _serve_http_mode(endpoint, services.settings, stop, probes, servers)
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
                           probes: Probes, servers: contextlib.AsyncExitStack) -> None:
    runner, port = await serve_http(endpoint.app, port=settings.port, host=settings.host,
                                    probes=probes)
    servers.push_async_callback(runner.cleanup)
    log.info("listening for Slack on http://%s:%d%s", settings.host, port, EVENTS_PATH)
    if settings.metrics_port:
        await _serve_probes_alone(probes, servers, default_port=settings.metrics_port)
    await stop.wait()


async def _serve_probes_alone(probes: Probes, servers: contextlib.AsyncExitStack, *,
                              default_port: int) -> None:
    """The probes and metrics on METRICS_PORT (else `default_port`), closed with the rest."""
    port = probes.metrics_port or default_port
    servers.push_async_callback((await serve_probes(probes, host=probes.host,
                                                    port=port)).cleanup)
    log.info("health and metrics on http://%s:%d (/healthz, /readyz, /metrics)",
             probes.host, port)
