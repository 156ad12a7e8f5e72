"""The set of loaded, enabled plugins; every change to it republishes the registry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot import messages
from bot.plugin_host.contract.protocol import LoadedPlugin, ToolSpec
from bot.plugin_host.policy.scopes import NO_SETTINGS, ScopedSettings, channels_of, settings_of
from bot.plugin_host.runtime.in_process import PluginHost
from bot.plugin_host.runtime.registry import MODEL_MAX_TOOLS, Registry, Tool
from bot.store.models import PluginRow


@dataclass
class ActivePlugin:
    version: str
    host: PluginHost
    plugin: LoadedPlugin
    source: str
    config: dict[str, Any] = field(default_factory=dict)
    revision: int = 0  # an MCP plugin's: which `mcp add` of its server it was opened from
    channels: frozenset[str] | None = None  # where it is offered (scopes.py); None: everywhere
    settings: ScopedSettings = field(default_factory=lambda: NO_SETTINGS)  # per channel (scopes.py)
    # an upload described again at open (PLUGIN_CONFIG changed since its install): the
    # digest of the entry it was described with, for its version row (versions.py)
    described_with: str | None = None

    def place(self, row: PluginRow) -> bool:
        """Take `row`'s channels and settings; whether they changed."""
        channels, settings = channels_of(row), settings_of(row)
        changed = channels != self.channels or settings != self.settings
        self.channels, self.settings = channels, settings
        return changed


class ActiveSet:
    def __init__(self, registry: Registry, *, tool_timeout: float) -> None:
        self.registry = registry
        self.tool_timeout = tool_timeout
        self._items: dict[str, ActivePlugin] = {}

    def get(self, name: str) -> ActivePlugin | None:
        return self._items.get(name)

    def names(self) -> list[str]:
        return list(self._items)

    def clash(self, name: str, tools: Iterable[ToolSpec]) -> tuple[str, str] | None:
        return find_clash(self._items, name, tools)

    async def refuse_clash(self, name: str, candidate: ActivePlugin) -> str | None:
        """The sentence refusing `candidate` when another plugin has one of its tool names
        (its host is closed then), or None."""
        clash = self.clash(name, candidate.plugin.tools)
        if clash is None:
            return None
        await candidate.host.close()
        return messages.tool_clash(name, *clash)

    def over_limit(self, name: str, tools: int, channels: frozenset[str] | None) -> str | None:
        """The sentence refusing `name` offered with `tools` tools in `channels` (None:
        everywhere) when that takes a channel past the model API's tool limit, or None.
        Only growth is refused: a change that leaves a set already over the limit no larger
        (a smaller version, fewer channels) goes through."""
        now = {other: (len(active.plugin.tools), active.channels)
               for other, active in self._items.items()}
        after = most_offered({**now, name: (tools, channels)})
        if after <= MODEL_MAX_TOOLS or after <= most_offered(now):
            return None
        return messages.too_many_tools(name, tools, after, MODEL_MAX_TOOLS)

    def retool(self, name: str, host: PluginHost, plugin: LoadedPlugin, version: str) -> bool:
        """Offer `plugin`'s tools for `name` if `host` still runs it (an MCP server's list
        changed); the same host, so nothing is closed."""
        active = self._items.get(name)
        if active is None or active.host is not host:
            return False
        active.plugin, active.version = plugin, version
        self.publish()
        return True

    def place(self, name: str, row: PluginRow) -> bool:
        """Offer `name`'s tools where `row` now says, with its settings (no reload);
        whether that changed anything."""
        active = self._items.get(name)
        if active is None or not active.place(row):
            return False
        self.publish()
        return True

    def without_clashes(self, name: str, plugin: LoadedPlugin) -> LoadedPlugin:
        """`plugin` less the tools another active plugin has, with a warning naming them."""
        owners = {tool.name: other for other, active in self._items.items() if other != name
                  for tool in active.plugin.tools}
        dropped = [tool.name for tool in plugin.tools if tool.name in owners]
        if not dropped:
            return plugin
        warning = messages.mcp_tools_dropped(dropped, owners[dropped[0]])
        return replace(plugin, tools=tuple(t for t in plugin.tools if t.name not in owners),
                       warnings=(*plugin.warnings, warning))

    async def swap(self, name: str, active: ActivePlugin | None) -> None:
        """Put `active` in place of `name` (or take it out), publish, then close the old host."""
        old = self._items.pop(name, None)
        if active is not None:
            self._items[name] = active
        self.publish()
        if old is not None and old is not active:
            await old.host.close()

    async def replace_all(self, items: dict[str, ActivePlugin]) -> None:
        old, self._items = self._items, dict(items)
        self.publish()
        for active in old.values():
            if all(active is not new for new in items.values()):
                await active.host.close()

    def publish(self) -> None:
        tools = [Tool.bind(spec, plugin=name, plugin_version=active.version,
                           invoke=active.host.invoke, default_timeout=self.tool_timeout,
                           config=active.config, channels=active.channels,
                           settings=active.settings, settable=active.plugin.manifest.settings)
                 for name, active in sorted(self._items.items())
                 for spec in active.plugin.tools]
        self.registry.publish(tools)


def most_offered(offers: Mapping[str, tuple[int, frozenset[str] | None]]) -> int:
    """The most tools any one channel is offered, given each plugin's (tool count,
    channels): a plugin is offered everywhere (channels None) or in its channels, and a
    channel no plugin names gets only the everywhere ones."""
    named = {channel for _, channels in offers.values() for channel in channels or ()}
    return max(sum(count for count, channels in offers.values()
                   if channels is None or channel in channels)
               for channel in [*named, None])


def find_clash(items: Mapping[str, ActivePlugin], name: str,
               tools: Iterable[ToolSpec]) -> tuple[str, str] | None:
    """The first (tool, other plugin) pair where another active plugin has the tool name."""
    for spec in tools:
        for other, active in items.items():
            if other != name and any(t.name == spec.name for t in active.plugin.tools):
                return spec.name, other
    return None
