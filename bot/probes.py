"""`/healthz`, `/readyz` and `/metrics`, for Kubernetes probes and Prometheus.

With METRICS_PORT they are served alone on that port, so that the port exposed for Slack
(PORT, /slack/events) shows nothing else. Without it: in HTTP mode they are routes of the
Slack endpoint's own server; in Socket Mode, which needs no inbound port for Slack, `bot
run` serves them alone on PORT. `/healthz` says the
process is alive (its event loop answers). `/readyz` says it should get traffic: the
database answers within 2 s and is at this code's migration, Slack is connected (Socket
Mode), and the bot is not shutting down; a JSON body names each check and why it failed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot import messages
from bot.agent.runs import Runs
from bot.errors import DatabaseFault
from bot.metrics import CONTENT_TYPE, Metrics
from bot.plugin_host import PluginManager
from bot.slack.front import hide_versions
from bot.store import Database
from bot.store.migrate import revisions

log = logging.getLogger(__name__)
PATHS = ("/healthz", "/readyz", "/metrics")
DATABASE_TIMEOUT = 2.0


@dataclass
class Probes:
    db: Database
    metrics_registry: Metrics
    runs: Runs
    plugins: PluginManager
    stopping: asyncio.Event
    slack_connected: Callable[[], Awaitable[bool]] | None = None  # Socket Mode only
    approvals_pending: Callable[[], int] = lambda: 0
    host: str = "0.0.0.0"  # HOST: where the probes are served
    metrics_port: int | None = None  # METRICS_PORT: served alone there

    def routes(self) -> dict[str, Callable[[], Coroutine[Any, Any, web.Response]]]:
        """Each path's handler; it runs on the bot's loop (/healthz: that loop answers)."""
        return {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.metrics}

    def add_routes(self, app: web.Application) -> None:
        for path, handler in self.routes().items():
            app.router.add_get(path, functools.partial(_ignore_request, handler))

    async def healthz(self) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self) -> web.Response:
        checks = {"database": await self._database(),
                  "shutdown": messages.probe_stopping() if self.stopping.is_set() else "ok"}
        if self.slack_connected is not None:
            checks["slack"] = "ok" if await self.slack_connected() else messages.probe_no_slack()
        ready = all(value == "ok" for value in checks.values())
        return web.json_response({"ready": ready, "checks": checks},
                                 status=200 if ready else 503)

    async def _database(self) -> str:
        db = self.db
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                with db.faults():  # one sentence, never the URL's password
                    await db.ping()
                    current, head = await revisions(db)
        except TimeoutError:
            return messages.probe_database_slow(DATABASE_TIMEOUT)
        except DatabaseFault as exc:
            return messages.probe_database_down(str(exc))
        except Exception as exc:  # a driver's own error: its kind only
            return messages.probe_database_down(type(exc).__name__)
        if current != head:
            return messages.doctor_migrations_pending(db.label, current, head)
        return "ok"

    async def metrics(self) -> web.Response:
        metrics = self.metrics_registry
        metrics.runs_waiting.set(self.runs.waiting)
        metrics.approvals_pending.set(self.approvals_pending())
        try:
            metrics.set_plugins(p.status for p in await self.plugins.list())
        except Exception as exc:  # the rest is still worth scraping
            log.warning("metrics: could not read the plugins' states: %s", exc)
        body = metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _ignore_request(handler: Callable[[], Awaitable[web.Response]],
                          request: web.Request) -> web.Response:
    return await handler()


async def serve_probes(probes: Probes, *, host: str, port: int) -> web.AppRunner:
    """The probe endpoints alone, on HOST and `port` (METRICS_PORT, or PORT in Socket
    Mode)."""
    from bot.errors import ConfigError

    app = web.Application()
    hide_versions(app)
    probes.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(messages.port_unavailable(host, port, exc)) from None
    return runner
