"""Composition root: builds every service from `Settings`. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot import messages
from bot.agent.context import load_system_prompt
from bot.agent.llm import AZURE_VERSION, LLM, OPENAI_URL, Azure
from bot.agent.loop import Agent
from bot.agent.runs import Runs
from bot.commands import PluginCommands
from bot.config import LocalServer, Settings
from bot.errors import DatabaseFault, PluginError, Problem
from bot.metrics import Metrics
from bot.plugin_host import (
    BUILTINS,
    DEFAULT_ENABLED_BUILTINS,
    ArchiveStore,
    CredentialBox,
    HealthMonitor,
    Installer,
    LastErrors,
    Limits,
    LocalTarget,
    McpHosts,
    McpServers,
    McpTarget,
    Owner,
    PluginManager,
    PluginStore,
    Registry,
    Unavailable,
    UploadChecks,
    UploadDir,
    WorkerFactory,
    discover,
    plugin_uids,
    schema_limits,
    stdio_target,
)
from bot.store import Database
from bot.store.audit import AuditLog
from bot.store.changes import PLUGINS, ChangeFeed
from bot.store.database import sqlite_file
from bot.store.migrate import upgrade
from bot.store.repositories import database_id
from bot.store.run_records import RunRecords
from bot.store.tool_log import ToolCallLog

log = logging.getLogger(__name__)
TOOL_THREADS = 32
MB = 2**20


@dataclass
class Services:
    settings: Settings
    db: Database
    audit: AuditLog
    registry: Registry
    plugins: PluginManager
    installer: Installer
    workers: WorkerFactory
    executor: ThreadPoolExecutor
    tool_log: ToolCallLog
    llm: LLM | None
    agent: Agent
    runs: Runs
    records: RunRecords
    changes: ChangeFeed  # started by `bot run`: NOTIFYs from the other replicas
    metrics: Metrics
    mcp: McpServers  # `mcp add`; MCP plugins otherwise live in `plugins` like any other
    commands: PluginCommands  # /plugin, App Home and `bot plugin …`: one typed API
    notices: list[str] = field(default_factory=list)  # one line each, for the operator

    async def close(self) -> None:
        await self.registry.close()  # its listeners write to the database: before it goes
        await self.changes.close()
        await self.plugins.close()
        await self.tool_log.close()
        await self.records.flush()  # the usage of runs that just ended
        if self.llm is not None:
            await self.llm.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        await self.db.dispose()


async def build_services(settings: Settings, *, migrate: bool = True,
                         default_enabled: frozenset[str] = DEFAULT_ENABLED_BUILTINS,
                         ) -> Services:
    """Open the database (migrating it), load plugins, and return the running services."""
    db = await open_database(settings.database_url, migrate=migrate)
    notices = [messages.new_database(db.label)] if db.created else []
    if not (settings.plugins_dir / BUILTINS).is_dir():  # a typo in PLUGINS_DIR, most often
        notices.append(messages.no_builtins_at_start(settings.plugins_dir))
        log.warning("%s", notices[-1])
    files = UploadDir(settings.plugins_dir)
    audit = AuditLog(db)
    registry = Registry(output_limit=settings.tool_output_keep_limit)  # the agent pages it
    executor = ThreadPoolExecutor(max_workers=TOOL_THREADS, thread_name_prefix="tool")
    metrics = Metrics()
    workers = WorkerFactory(settings, on_start=metrics.count_worker)
    limits = upload_limits(settings)
    archives = ArchiveStore(db, files, limits)
    last_errors, store = LastErrors(db), PluginStore(db)
    hosts = mcp_hosts(settings, workers, last_errors)
    plugins = PluginManager(db=db, registry=registry, plugins_dir=settings.plugins_dir,
                            tool_timeout=settings.tool_timeout, executor=executor,
                            default_enabled=default_enabled, upload_hosts=workers.host,
                            config_defaults=settings.plugin_defaults(),
                            sandbox_uids=plugin_uids(settings.sandbox_uid_range),
                            sandbox_kind=workers.kind, audit=audit, files=files,
                            archives=archives, mcp_hosts=hosts, store=store)
    mcp = McpServers(plugins, hosts, db, last_errors)
    registry.add_listener(HealthMonitor(plugins, store,
                                        threshold=settings.plugin_max_consecutive_failures))
    installer = Installer(manager=plugins, store=store, audit=audit,
                          plugins_dir=settings.plugins_dir, limits=limits,
                          prober=workers.probe, sandbox_kind=workers.kind, files=files)
    registry.add_listener(metrics)
    tool_log, records = ToolCallLog(db), RunRecords(
        db, per_run_limit=settings.tool_output_keep_limit)
    agent = _make_agent(settings, registry, tool_log, records, metrics)
    services = Services(settings=settings, db=db, audit=audit, registry=registry, plugins=plugins,
                        installer=installer, workers=workers, executor=executor,
                        tool_log=tool_log, llm=agent.llm, agent=agent, records=records,
                        runs=Runs(agent, limit=settings.agent_max_concurrent_runs),
                        changes=ChangeFeed(db), metrics=metrics, mcp=mcp, notices=notices,
                        commands=PluginCommands(plugins, audit, records, mcp=mcp))
    await _start(services, archives, migrate=migrate)
    return services


async def _start(services: Services, archives: ArchiveStore, *, migrate: bool) -> None:
    """Claim and sweep uploads, sync MCP_SERVERS, load plugins; a failure closes all."""
    try:
        if migrate:
            services.notices += await _claim_uploads(services.db, services.installer)
            await archives.backfill()
        services.installer.sweep()
        await services.mcp.sync_local(services.settings.mcp_servers)
        await services.records.sweep_outputs()  # of runs a crash left unfinished
        await services.plugins.start()
    except BaseException:
        await services.close()
        raise


def _make_agent(settings: Settings, registry: Registry, tool_log: ToolCallLog,
                records: RunRecords, metrics: Metrics) -> Agent:
    return Agent(llm=_make_llm(settings), registry=registry, tool_log=tool_log,
                 records=records, metrics=metrics,
                 system_prompt=load_system_prompt(settings.agent_system_prompt,
                                                  settings.agent_system_prompt_file),
                 max_steps=settings.agent_max_steps, output_limit=settings.tool_output_limit,
                 context_tokens=settings.agent_context_tokens)


def mcp_hosts(settings: Settings, workers: WorkerFactory,
              last_errors: LastErrors | None = None) -> McpHosts:
    return McpHosts(CredentialBox(settings.bot_secret_key),
                    connect_timeout=settings.mcp_connect_timeout,
                    idle_seconds=settings.plugin_worker_idle_seconds,
                    limits=schema_limits(settings), local=local_targets(settings, workers),
                    max_bytes=int(settings.plugin_max_response_mb * MB),
                    allow=tuple(settings.mcp_allowed_networks()), last_errors=last_errors)


def local_targets(settings: Settings, workers: WorkerFactory) -> dict[str, LocalTarget]:
    """MCP_SERVERS' servers, each started in the sandbox (detected when first needed)."""
    def target(name: str, server: LocalServer) -> LocalTarget:
        def make(uid: int | None) -> McpTarget:
            sandbox = workers.sandbox
            if isinstance(sandbox, Unavailable):
                raise PluginError(name, [Problem("sandbox", sandbox.describe())])
            return stdio_target(name, server, sandbox, uid)
        return make
    return {name: target(name, server)
            for name, server in settings.local_mcp_servers.items()}


def upload_limits(settings: Settings) -> Limits:
    return Limits(max_upload_bytes=int(settings.plugin_max_upload_mb * MB),
                  max_unpacked_bytes=int(settings.plugin_max_unpacked_mb * MB),
                  max_entries=settings.plugin_max_entries,
                  max_ratio=settings.plugin_max_compression_ratio)


async def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open (creating an SQLite file if need be), check and migrate the database; one
    DatabaseFault sentence if it is unusable."""
    db = Database(url)
    try:
        await db.check()
        if migrate:
            with db.faults():
                await upgrade(db)
    except BaseException:
        await db.dispose()
        raise
    return db


async def upload_checks(settings: Settings) -> tuple[UploadChecks, Database | None]:
    """What `bot plugin check` needs, and nothing that writes: the sandbox to probe in, the
    built-in names, and the database only to read the installed versions — when it exists
    (an SQLite file is never created for a check) and is readable. Close the database
    returned."""
    workers = WorkerFactory(settings)
    db, reason = None, ""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        reason = messages.no_database_yet(str(path))
    else:
        try:
            db = await open_database(settings.database_url, migrate=False)
        except DatabaseFault as exc:
            reason = str(exc)
    checks = UploadChecks(files=UploadDir(settings.plugins_dir), limits=upload_limits(settings),
                          prober=workers.probe,
                          builtin_names=lambda: set(discover(settings.plugins_dir / BUILTINS)),
                          versions=PluginStore(db) if db else None,
                          sandbox_kind=workers.kind, no_versions_reason=reason)
    return checks, db


async def _claim_uploads(db: Database, installer: Installer) -> list[str]:
    """Own the uploads directory when nobody does; a notice when another database does."""
    async with db.read() as session:
        me = Owner(await database_id(session), db.label)
    notice = await installer.open_uploads(me)
    if notice:
        log.warning("%s", notice)
    return [notice] if notice else []


def _make_llm(settings: Settings) -> LLM | None:
    if not settings.llm_configured:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    azure = (Azure(settings.azure_openai_endpoint, settings.openai_api_version or AZURE_VERSION)
             if settings.azure_openai_endpoint else None)
    base_url = settings.azure_openai_endpoint or settings.openai_base_url or OPENAI_URL
    return LLM(api_key=key, base_url=base_url, model=settings.openai_model,
               timeout=settings.openai_timeout, max_retries=settings.openai_max_retries,
               organization=settings.openai_org_id, project=settings.openai_project_id,
               proxy=settings.proxy_for(base_url), azure=azure)


def settle_heap() -> None:
    """Call once, when a long-running command (`run`, `console`) has started: every object
    start-up allocated (libraries, plugins, ~100,000 of them) lives as long as the process,
    yet each full collection walks them all again, stalling the event loop ~35 ms. Freezing
    them (`gc.freeze`) took the first round of 100 concurrent agent runs from 1.21x to 1.16x
    of the ideal (bench/RESULTS.md)."""
    gc.collect()
    gc.freeze()


async def stop_leftover_tasks(seconds: float) -> list[str]:
    """At the very end of a long-running command: cancel what is still running and wait up
    to `seconds` for it; what did not stop, as "coroutine at file:line" (asyncio.run would
    wait for it forever)."""
    current = asyncio.current_task()
    leftover = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftover:
        task.cancel()
    if not leftover:
        return []
    _, stuck = await asyncio.wait(leftover, timeout=seconds)
    return [_where(task) for task in stuck]


def _where(task: asyncio.Task[object]) -> str:
    frames = task.get_stack(limit=1)
    coroutine = getattr(task.get_coro(), "__qualname__", repr(task.get_coro()))
    if not frames:
        return str(coroutine)
    code = frames[-1].f_code
    return f"{coroutine} at {code.co_filename}:{frames[-1].f_lineno}"


async def refresh_plugins(services: Services) -> None:
    """Pick up plugin changes made by another process (the CLI, another replica): at once
    when PostgreSQL tells (LISTEN/NOTIFY), else every PLUGIN_REFRESH_SECONDS. Starts the
    process's change feed, which approvals and Stop requests hear as well."""
    interval = services.settings.plugin_refresh_seconds
    feed = services.changes
    if await feed.start():
        log.info("listening for changes on the database; polling every %g s as well",
                 interval)
    seen = feed.heard[PLUGINS]
    try:
        while interval > 0:
            seen = await feed.wait(PLUGINS, interval, seen)
            try:
                await services.plugins.refresh()
            except Exception:
                log.exception("refreshing plugin state from the database failed")
    finally:
        await feed.close()
