"""What an admin reviewed of an MCP server is what the bot offers: the tool set is pinned
when the server is added (the plugin's active version), and a different list the server
announces later is held for review. Pure functions over tool specs: what the proposal is,
what changed, and that no change can drop an approval requirement."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.plugin_host.contract.protocol import LoadedPlugin, Manifest, ToolSpec
from bot.store.models import McpServerRow, utcnow


def proposal(listed: LoadedPlugin, reviewed: LoadedPlugin) -> LoadedPlugin:
    """`listed` as it could be accepted: a tool that needed an approval (or was a write)
    when reviewed still does, whatever the server's hints say now."""
    before = {tool.name: tool for tool in reviewed.tools}

    def kept(tool: ToolSpec) -> ToolSpec:
        old = before.get(tool.name)
        if old is None:
            return tool
        return replace(tool, requires_approval=tool.requires_approval or old.requires_approval,
                       writes=tool.writes or old.writes)
    return replace(listed, tools=tuple(kept(tool) for tool in listed.tools))


def differs(proposed: LoadedPlugin, reviewed: LoadedPlugin) -> bool:
    return proposed.tools != reviewed.tools


def summary(proposed: LoadedPlugin, reviewed: LoadedPlugin) -> str:
    """`added a, b; changed c; removed d`: what accepting would change."""
    before = {tool.name: tool for tool in reviewed.tools}
    after = {tool.name: tool for tool in proposed.tools}
    parts = [(label, names) for label, names in (
        ("added", [n for n in after if n not in before]),
        ("changed", [n for n in after if n in before and after[n] != before[n]]),
        ("removed", [n for n in before if n not in after])) if names]
    return "; ".join(f"{label} {', '.join(names)}" for label, names in parts) or "no change"


def pending_of(tools: list[Any] | None, version: str | None, reviewed: LoadedPlugin
               ) -> LoadedPlugin | None:
    """The proposal stored on an MCP server's row, as a plugin (None: nothing pending)."""
    if tools is None:
        return None
    manifest = Manifest.from_dict({**reviewed.manifest.to_dict(),
                                   "version": version or reviewed.manifest.version})
    return LoadedPlugin(manifest, tuple(ToolSpec.from_description(t) for t in tools))


def hold_for_review(server: McpServerRow, proposed: LoadedPlugin,
                    reviewed: LoadedPlugin) -> str | None:
    """Hold `proposed` on the server's row for an admin's review (or clear what was held,
    when the server lists the reviewed tools again). What accepting would change, when
    this is news to audit and tell; None when it is not (heard before, or cleared)."""
    changed = differs(proposed, reviewed)
    wanted = [tool.describe() for tool in proposed.tools] if changed else None
    if server.pending_tools == wanted:
        return None
    server.pending_tools = wanted
    server.pending_version = proposed.manifest.version if changed else None
    server.pending_since = utcnow() if changed else None
    return summary(proposed, reviewed) if changed else None
