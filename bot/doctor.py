"""`bot doctor`: one line per check, ✓ or ✗ with what to do; exit 1 if any fails.

Every check looks and changes nothing: no database is created or migrated, no plugins dir
claimed, no plugin enabled. Checks that need a setting that is not there are skipped with
a line saying so (a bot without Slack tokens is a console bot, not a broken one).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from bot import messages
from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError, PluginError
from bot.plugin_host import BUILTINS, UPLOADS, UploadDir, discover
from bot.store.database import Database, sqlite_file
from bot.store.migrate import revisions
from bot.store.models import McpServerRow
from bot.store.repositories import PluginRepository, database_id

if TYPE_CHECKING:
    from bot.plugin_host import McpHosts

CHECK_TIMEOUT = 20.0
PROBE_PLUGIN = '''
def get_manifest():
    return {"name": "doctor_probe", "version": "1.0.0"}

def get_tools():
    return [{"schema": {"name": "doctor_probe_ping", "description": "ping",
                        "parameters": {"type": "object", "properties": {}}},
             "handler": lambda: "pong"}]
'''


@dataclass
class Found:
    """What one check learns that a later one uses (the database is opened once)."""

    database_id: str | None = None


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped
    detail: str

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "-"}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


async def diagnose() -> list[Check]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return [Check("settings", False, str(exc))]
    checks = [Check("settings", True, messages.doctor_settings_ok())]
    found = Found()
    steps: list[Callable[[Settings, Found], Awaitable[Check]]] = [
        check_database, check_plugins_dir, check_sandbox, check_slack, check_model,
        check_cluster]
    for step in steps:
        try:
            checks.append(await asyncio.wait_for(step(settings, found), CHECK_TIMEOUT))
        except TimeoutError:
            checks.append(Check(step.__name__.removeprefix("check_"), False,
                                messages.doctor_timed_out(CHECK_TIMEOUT)))
    return checks + await check_mcp_servers(settings, found)


async def check_mcp_servers(settings: Settings, found: Found) -> list[Check]:
    """Each MCP server the bot would use (MCP_SERVERS, and the remote ones in the database,
    enabled or not) connected to and asked for its tools, as `enable` would: one line each.
    Local ones start in the sandbox under a probe uid, as an install probe does."""
    from bot.app import mcp_hosts
    from bot.plugin_host import Unavailable, WorkerFactory

    workers = WorkerFactory(settings)
    hosts = mcp_hosts(settings, workers)
    try:
        rows = await _remote_mcp_servers(settings) if found.database_id else []
    except BotError as exc:
        return [Check("mcp", False, str(exc))]
    rows += [McpServerRow(plugin_name=name, transport="stdio") for name in sorted(hosts.local)]
    if not rows:
        return [Check("mcp", None, messages.doctor_no_mcp_servers())]
    sandbox = await asyncio.to_thread(lambda: workers.sandbox) if hosts.local else None
    checks = []
    for row in rows:
        uid = None
        if row.transport == "stdio":
            assert sandbox is not None  # the row came from hosts.local
            if isinstance(sandbox, Unavailable):
                checks.append(Check(f"mcp {row.plugin_name}", False, sandbox.describe()))
                continue
            uid = sandbox.probe_uid() if sandbox.root else None
        checks.append(await _check_mcp(hosts, row, uid, settings.mcp_connect_timeout + 5))
    return checks


async def _remote_mcp_servers(settings: Settings) -> list[McpServerRow]:
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            return await PluginRepository(session).remote_mcp()
    finally:
        await db.dispose()


async def _check_mcp(hosts: McpHosts, row: McpServerRow, uid: int | None,
                     seconds: float) -> Check:
    name = f"mcp {row.plugin_name}"
    try:
        host = hosts.host(row.plugin_name, row, uid)
    except BotError as exc:
        return Check(name, False, str(exc))
    try:
        plugin = await asyncio.wait_for(host.load(), seconds)
        return Check(name, True, messages.doctor_mcp_ok(host.target.label,
                                                        [tool.name for tool in plugin.tools]))
    except PluginError as exc:
        return Check(name, False, "; ".join(p.message for p in exc.problems))
    except TimeoutError:
        return Check(name, False, messages.doctor_timed_out(seconds))
    finally:
        await host.close()


async def check_database(settings: Settings, found: Found) -> Check:
    try:
        path = sqlite_file(settings.database_url)  # never created by a check
        if path is not None and not path.exists():
            return Check("database", False, messages.doctor_no_database(path))
        db = Database(settings.database_url)
    except BotError as exc:
        return Check("database", False, str(exc))
    try:
        await db.check()
        current, head = await revisions(db)
        if current != head:
            return Check("database", False, messages.doctor_migrations_pending(
                db.label, current, head))
        async with db.write() as session:  # BEGIN IMMEDIATE: not read-only, not locked
            found.database_id = await database_id(session)
        return Check("database", True, messages.doctor_database_ok(db.label, head))
    except BotError as exc:
        return Check("database", False, str(exc))
    finally:
        await db.dispose()


async def check_plugins_dir(settings: Settings, found: Found) -> Check:
    root = settings.plugins_dir
    builtins = sorted(discover(root / BUILTINS))
    if not builtins:
        return Check("plugins", False, messages.doctor_no_builtins(root))
    files = UploadDir(root)
    owner = files.read_owner()
    mine = found.database_id
    if owner is not None and mine is not None and owner.database_id != mine:
        return Check("plugins", False, messages.uploads_owned_elsewhere(root / UPLOADS,
                                                                       owner.database))
    whose = None if owner is None else ("this database" if owner.database_id == mine
                                        else owner.database)
    return Check("plugins", True, messages.doctor_plugins_ok(root, builtins, whose))


async def check_sandbox(settings: Settings, found: Found) -> Check:
    from bot.plugin_host import Unavailable, WorkerFactory

    workers = WorkerFactory(settings)
    sandbox = await asyncio.to_thread(lambda: workers.sandbox)
    if isinstance(sandbox, Unavailable):
        return Check("sandbox", False, sandbox.describe())
    folder = await asyncio.to_thread(_write_probe_plugin)
    try:
        plugin = await workers.probe("doctor_probe", folder / "doctor_probe.py")
        tools = [tool.name for tool in plugin.tools]
        return Check("sandbox", True, messages.doctor_sandbox_ok(sandbox.describe(), tools))
    except BotError as exc:
        return Check("sandbox", False, str(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_probe_plugin() -> Path:
    """A one-tool plugin in a fresh directory the sandbox's uid can read."""
    folder = Path(tempfile.mkdtemp(prefix="bot-doctor-"))
    entry = folder / "doctor_probe.py"
    entry.write_text(PROBE_PLUGIN)
    folder.chmod(0o755)
    entry.chmod(0o644)
    return folder


async def check_slack(settings: Settings, found: Found) -> Check:
    if settings.slack_bot_token is None:
        return Check("slack", None, messages.doctor_skipped("SLACK_BOT_TOKEN"))
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack import connect

    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    stop = asyncio.Event()
    try:
        identity = await asyncio.wait_for(connect.check_token(client, stop), 10)
    except ConfigError as exc:
        return Check("slack", False, str(exc))
    except TimeoutError:
        stop.set()
        return Check("slack", False, messages.doctor_slack_unreachable(settings.slack_api_url))
    return Check("slack", True, messages.doctor_slack_ok(identity.get("user"),
                                                         identity.get("team")))


async def check_model(settings: Settings, found: Found) -> Check:
    if not settings.llm_configured:
        return Check("model", None, messages.doctor_skipped("OPENAI_API_KEY or OPENAI_BASE_URL"))
    from bot.agent.llm import OPENAI_URL

    base = (settings.openai_base_url or OPENAI_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {settings.openai_api_key.get_secret_value()}"} if (
        settings.openai_api_key) else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                http.get(f"{base}/models", headers=headers,
                         proxy=settings.proxy_for(base)) as response:
            if response.status != 200:
                return Check("model", False, messages.doctor_model_refused(base,
                                                                           response.status))
            models = [m.get("id") for m in (await response.json()).get("data", [])]
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check("model", False, messages.doctor_model_unreachable(base, exc))
    listed = settings.openai_model in models
    return Check("model", bool(listed or not models),
                 messages.doctor_model_ok(base, settings.openai_model, listed, len(models)))


async def check_cluster(settings: Settings, found: Found) -> Check:
    from bot import kube

    kubeconfig = settings.kubeconfig or os.environ.get("KUBECONFIG")
    if not kubeconfig and not _cluster_configured():
        return Check("cluster", None, messages.doctor_skipped("KUBECONFIG"))
    try:
        cluster = await asyncio.to_thread(kube.connect, kubeconfig, read_timeout=10)
        api = cluster.api()
        version = await asyncio.to_thread(kube.request, api, "/version",
                                          what="the cluster's version")
    except kube.ClusterError as exc:
        return Check("cluster", False, str(exc))
    return Check("cluster", True, messages.doctor_cluster_ok(kube.server(api),
                                                             version.get("gitVersion")))


def _cluster_configured() -> bool:
    """~/.kube/config exists, or this is a pod with a service account."""
    return (os.path.exists(os.path.expanduser("~/.kube/config"))
            or bool(os.environ.get("KUBERNETES_SERVICE_HOST")))


async def run_doctor() -> int:
    checks = await diagnose()
    for check in checks:
        print(check.line(), flush=True)
    return 1 if any(check.ok is False for check in checks) else 0
