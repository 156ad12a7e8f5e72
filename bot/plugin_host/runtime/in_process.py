"""Hosts run a plugin's tools. The in-process host is for trusted code (builtins) only."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol

from bot.plugin_host.contract.loader import import_plugin, unload
from bot.plugin_host.contract.protocol import LoadedPlugin, ToolSpec
from bot.plugin_host.contract.validation import check_module
from bot.sdk import ToolContext


class PluginHost(Protocol):
    """Where a plugin's code runs. `invoke` may raise; the registry turns that into a result."""

    kind: str

    async def load(self) -> LoadedPlugin: ...

    async def invoke(self, spec: ToolSpec, arguments: Mapping[str, Any],
                     ctx: ToolContext) -> Any: ...

    async def close(self) -> None: ...


class InProcessHost:
    """Imports the plugin into the bot process; sync handlers run on `executor` threads."""

    kind = "in-process"

    def __init__(self, path: Path, *, name: str, executor: Executor | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.name = name
        self.config = dict(config or {})
        self._executor = executor
        self._module_name: str | None = None
        self._handlers: dict[str, Any] = {}

    async def load(self) -> LoadedPlugin:
        module = import_plugin(self.path, name=self.name)
        self._module_name = module.__name__
        try:
            plugin = check_module(module, expected_name=self.name, config=self.config)
        except BaseException:
            await self.close()
            raise
        self._handlers = {spec.name: spec.handler for spec in plugin.tools}
        return plugin

    async def invoke(self, spec: ToolSpec, arguments: Mapping[str, Any],
                     ctx: ToolContext) -> Any:
        handler = self._handlers[spec.name]
        kwargs = dict(arguments)
        if spec.wants_ctx:
            kwargs["ctx"] = ctx
        if inspect.iscoroutinefunction(handler):
            return await handler(**kwargs)
        loop = asyncio.get_running_loop()
        run = contextvars.copy_context().run  # its log lines keep the run's and tool's fields
        result = await loop.run_in_executor(self._executor,
                                            functools.partial(run, handler, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def close(self) -> None:
        if self._module_name:
            unload(self._module_name)
            self._module_name = None
        self._handlers = {}
