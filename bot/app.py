"""Composition root: builds every service from `Settings`. Nothing is built at import time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.config import Settings
from bot.plugin_host.manager import DEFAULT_ENABLED_BUILTINS, PluginManager
from bot.plugin_host.registry import Registry
from bot.store import Database
from bot.store.migrate import upgrade

TOOL_THREADS = 32


@dataclass
class Services:
    settings: Settings
    db: Database
    registry: Registry
    plugins: PluginManager
    executor: ThreadPoolExecutor

    async def close(self) -> None:
        await self.plugins.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        await self.db.dispose()


async def build_services(settings: Settings, *, migrate: bool = True,
                         default_enabled: frozenset[str] = DEFAULT_ENABLED_BUILTINS,
                         ) -> Services:
    """Open the database (migrating it), load plugins, and return the running services."""
    db = Database(settings.database_url)
    if migrate:
        await upgrade(db)
    registry = Registry(output_limit=settings.tool_output_limit)
    executor = ThreadPoolExecutor(max_workers=TOOL_THREADS, thread_name_prefix="tool")
    plugins = PluginManager(db=db, registry=registry, plugins_dir=settings.plugins_dir,
                            tool_timeout=settings.tool_timeout, executor=executor,
                            default_enabled=default_enabled)
    services = Services(settings=settings, db=db, registry=registry, plugins=plugins,
                        executor=executor)
    try:
        await plugins.start()
    except BaseException:
        await services.close()
        raise
    return services
