"""Health: an uploaded or MCP plugin whose calls crash or time out too often in a row is disabled,
with the reason in its status and the audit trail, and the admins are told. An MCP server
that cannot be reached at all (`unavailable`) is neither counted nor forgiven: it is tried
again with a backoff and comes back by itself when it answers."""

from __future__ import annotations

import logging

from bot import messages
from bot.plugin_host.contract.protocol import ErrorKind, ToolResult
from bot.plugin_host.lifecycle.actions import Action
from bot.plugin_host.lifecycle.manager import PluginManager
from bot.plugin_host.lifecycle.plugin_store import PluginStore
from bot.plugin_host.runtime.registry import Tool

log = logging.getLogger(__name__)
FAULTS = (ErrorKind.CRASHED, ErrorKind.TIMEOUT)  # what a plugin's health counts


class HealthMonitor:
    """A registry listener. The count lives in the database (plugins.consecutive_failures);
    the copy here only saves a write after successes."""

    def __init__(self, manager: PluginManager, store: PluginStore, *, threshold: int) -> None:
        self.manager = manager
        self.store = store
        self.threshold = threshold
        self._known: dict[str, int] = {}

    async def __call__(self, tool: Tool, result: ToolResult) -> None:
        name = tool.plugin
        if not self.manager.watched(name) or result.error == ErrorKind.UNAVAILABLE:
            return  # a server away (restarting, a network blip) is retried, not held against it
        failed = result.error in FAULTS
        if not failed and self._known.get(name) == 0:
            return
        count = await self.store.count_failure(name, failed=failed)
        if count is None:
            return
        self._known[name] = count
        if failed and self.threshold and count >= self.threshold:
            reason = messages.auto_disabled(count, result.text)
            log.warning("plugin %s: %s", name, reason)
            await self.manager.disable(name, actor="system", reason=reason,
                                       event=Action.AUTO_DISABLE)
