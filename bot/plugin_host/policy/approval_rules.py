"""Per-tool approval rules: an admin decides that a tool needs an approval (or not),
whatever its plugin declares. Stored in `approval_rules`, audited, applied by the registry
to every call (`Registry.requires_approval`), and re-read with the plugins at every
refresh, so every replica applies the same rule."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot import messages
from bot.errors import BotError, NotFoundError
from bot.plugin_host.runtime.registry import Registry
from bot.store import Database
from bot.store.models import PluginRow
from bot.store.repositories import ApprovalRuleRepository, AuditRepository, PluginRepository

MODES = {"required": True, "auto": False, "default": None}


class ApprovalRules:
    def __init__(self, db: Database, registry: Registry) -> None:
        self.db = db
        self.registry = registry
        self.current: dict[str, bool] = {}

    async def load(self) -> dict[str, bool]:
        """Read the rules and hand them to the registry."""
        async with self.db.read() as session:
            self.current = await ApprovalRuleRepository(session).all()
        self.registry.set_approval_rules(self.current)
        return self.current

    async def set(self, tool: str, mode: str, *, actor: str) -> str:
        """Set `tool`'s rule (`required`, `auto`, or `default`: the plugin's own say);
        the sentence saying what it is now."""
        if mode.lower() not in MODES:
            raise BotError(messages.approval_mode_unknown(mode))
        required = MODES[mode.lower()]
        async with self.db.write() as session:
            rows = await PluginRepository(session).all()
            declared = _declared(rows)
            if tool not in declared:
                close = difflib.get_close_matches(tool, list(declared), n=2, cutoff=0.6)
                raise NotFoundError("tool", tool, close)
            writer = _writers(rows).get(tool)
            if writer is not None and required is False:
                raise BotError(messages.approval_auto_refused_for_write(tool, writer))
            await ApprovalRuleRepository(session).replace(tool, required, actor=actor)
            AuditRepository(session).record(actor=actor, action="approval", target=tool,
                                            outcome="ok", detail=mode.lower())
        await self.load()
        effective = declared[tool] if required is None else required
        return messages.approval_rule_set(tool, mode.lower(), effective, declared[tool])


def _declared(rows: Sequence[PluginRow]) -> dict[str, bool]:
    """Every tool any installed plugin version declares, with its own requires_approval
    (the active version's when versions differ)."""
    found: dict[str, bool] = {}
    for row in rows:
        for version in sorted(row.versions, key=lambda v: v.version == row.active_version):
            for tool in version.tools:
                found[str(tool["name"])] = bool(tool.get("requires_approval", False))
    return found


def _writers(rows: Sequence[PluginRow]) -> dict[str, str]:
    """The tools any installed version marks as writes, with their plugin's name."""
    return {str(tool["name"]): row.name for row in rows for version in row.versions
            for tool in version.tools if tool.get("writes")}
