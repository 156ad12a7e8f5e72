"""The plugin commands as typed calls. Changing ones need an admin (a refused attempt is
audited); every failure a user can cause or meet — a bad name, a conflict, the database
away — comes back as one sentence in a `CommandResult`, never as an exception. The work is
the plugin manager's; the words come from `messages` and `text_render`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from bot import messages, text_render
from bot.errors import BotError, DatabaseFault
from bot.plugin_host import (
    NO_SETTINGS,
    McpServers,
    Outcome,
    PluginManager,
    PluginSettings,
    Where,
)
from bot.store.audit import AuditLog
from bot.store.run_records import RunRecords

MAX_LISTED = 200  # audit and runs entries shown at most
T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who runs a command: a Slack user id (or `console:…`, `cli:…`), and whether an admin."""

    id: str
    admin: bool


@dataclass(frozen=True)
class CommandResult:
    text: str
    ok: bool = True
    changed: bool = False


class PluginCommands:
    def __init__(self, manager: PluginManager, audit: AuditLog,
                 records: RunRecords | None = None, mcp: McpServers | None = None) -> None:
        self.manager = manager
        self.audit = audit
        self.records = records
        self.mcp = mcp
        self.settings = PluginSettings(manager)

    # -- reads: everyone -----------------------------------------------------------------

    async def list(self, *, by: Actor) -> CommandResult:
        return await _read(lambda: self._text(text_render.plugin_list, self.manager.list()))

    async def info(self, name: str, *, by: Actor) -> CommandResult:
        """A plugin's card; without its settings for anyone but an admin."""
        async def card() -> str:
            info = await self.manager.info(name)
            return text_render.plugin_detail(info if by.admin
                                             else replace(info, settings=NO_SETTINGS))
        return await _read(card)

    async def tools(self, name: str | None = None, *, by: Actor) -> CommandResult:
        async def listed() -> str:
            plugins = [await self.manager.info(name)] if name else await self.manager.list()
            return text_render.tool_list(plugins)
        return await _read(listed)

    async def versions(self, name: str, *, by: Actor) -> CommandResult:
        return await _read(lambda: self._text(text_render.version_list,
                                              self.manager.info(name)))

    async def audit_trail(self, limit: int = 20, *, by: Actor) -> CommandResult:
        """The last `limit` audit entries (at most MAX_LISTED)."""
        refused = _limit_problem(limit)
        if refused is not None:
            return refused
        return await _read(lambda: self._text(text_render.audit_list,
                                              self.audit.recent(min(limit, MAX_LISTED))))

    async def runs(self, limit: int = 20, *, by: Actor) -> CommandResult:
        """The last `limit` agent runs and the tokens they used."""
        refused = _limit_problem(limit)
        if refused is not None:
            return refused
        records = self.records

        async def listed() -> str:
            runs = await records.recent_usage(min(limit, MAX_LISTED)) if records else []
            return text_render.run_list(runs)
        return await _read(listed)

    async def settings_of(self, name: str, *, by: Actor) -> CommandResult:
        """The settings admins set for a plugin (admins only: they may narrow limits)."""
        if not by.admin:
            return CommandResult(messages.settings_admins_only(), ok=False)
        return await _read(lambda: self._text(text_render.settings_list,
                                              self.manager.info(name)))

    # -- changes: admins -----------------------------------------------------------------

    async def enable(self, name: str, where: Where | None = None, *,
                     by: Actor) -> CommandResult:
        """Offer a plugin's tools (`where`: in those channels; None: as it was, or
        everywhere)."""
        return await self._change(by, "enable", name, lambda: self._outcome(
            self.manager.enable(name, actor=by.id, where=where)))

    async def disable(self, name: str, where: Where | None = None, *,
                      by: Actor) -> CommandResult:
        """Stop offering them (`where`: out of those channels; everywhere is plain off)."""
        narrow = None if where is None or where.everywhere else where
        return await self._change(by, "disable", name, lambda: self._outcome(
            self.manager.disable(name, actor=by.id, where=narrow)))

    async def set(self, name: str, pairs: Mapping[str, str], where: Where, *,
                  by: Actor) -> CommandResult:
        """Settings its tools get (an empty value removes one), `where` they apply."""
        async def apply() -> CommandResult:
            text = await self.settings.set(name, pairs, where, actor=by.id)
            return CommandResult(text, changed=True)
        return await self._change(by, "set", name, apply)

    async def remove(self, name: str, *, by: Actor) -> CommandResult:
        return await self._change(by, "remove", name, lambda: self._outcome(
            self.manager.remove(name, actor=by.id), changed=True))

    async def rollback(self, name: str, version: str | None = None, *,
                       by: Actor) -> CommandResult:
        return await self._change(by, "rollback", name, lambda: self._outcome(
            self.manager.rollback(name, version, actor=by.id)))

    async def reload(self, *, by: Actor) -> CommandResult:
        async def reload_all() -> CommandResult:
            plugins = await self.manager.reload_all(actor=by.id)
            return CommandResult(messages.reloaded(len(plugins)) + "\n\n"
                                 + text_render.plugin_list(plugins), changed=True)
        return await self._change(by, "reload", "*", reload_all)

    async def approval(self, tool: str, mode: str, *, by: Actor) -> CommandResult:
        """Whether `tool`'s calls wait for an admin: required, auto or default."""
        async def set_rule() -> CommandResult:
            return CommandResult(await self.manager.set_approval(tool, mode, actor=by.id),
                                 changed=True)
        return await self._change(by, "approval", tool, set_rule)

    async def mcp_add(self, name: str, url: str, headers: Mapping[str, str], *,
                      by: Actor) -> CommandResult:
        """Add (or update) a remote MCP server as plugin `name`, disabled until enabled."""
        mcp = self.mcp
        if mcp is None:
            return CommandResult(messages.mcp_usage(), ok=False)
        return await self._change(by, "mcp", name, lambda: self._outcome(
            mcp.add(name, url, headers, actor=by.id), changed=True))

    async def mcp_accept(self, name: str, *, by: Actor) -> CommandResult:
        """Offer the tools an MCP server lists now, as reviewed."""
        mcp = self.mcp
        if mcp is None:
            return CommandResult(messages.mcp_usage(), ok=False)
        return await self._change(by, "mcp", name, lambda: self._outcome(
            mcp.accept(name, actor=by.id), changed=True))

    async def refuse(self, by: Actor, verb: str, target: str) -> CommandResult:
        """Not an admin: the attempt is audited (best effort) and refused in one line."""
        await self.audit.refusal(by.id, verb, target, messages.not_admin(), best_effort=True)
        return CommandResult(messages.not_admin(), ok=False)

    # -- internals -----------------------------------------------------------------------

    async def _change(self, by: Actor, verb: str, target: str,
                      work: Callable[[], Awaitable[CommandResult]]) -> CommandResult:
        if not by.admin:
            return await self.refuse(by, verb, target)
        return await _guarded(work)

    @staticmethod
    async def _outcome(outcome: Awaitable[Outcome], *, changed: bool | None = None
                       ) -> CommandResult:
        done = await outcome
        return CommandResult(done.message, changed=done.changed if changed is None else changed)

    @staticmethod
    async def _text(render: Callable[[T], str], value: Awaitable[T]) -> str:
        return render(await value)


async def _read(work: Callable[[], Awaitable[str]]) -> CommandResult:
    async def text() -> CommandResult:
        return CommandResult(await work())
    return await _guarded(text)


async def _guarded(work: Callable[[], Awaitable[CommandResult]]) -> CommandResult:
    """`work`'s result, or the one sentence saying why it failed (nothing was changed)."""
    try:
        return await work()
    except DatabaseFault as exc:
        return CommandResult(messages.change_not_saved(str(exc)), ok=False)
    except BotError as exc:
        return CommandResult(str(exc), ok=False)


def _limit_problem(limit: int) -> CommandResult | None:
    if limit < 1:
        return CommandResult(messages.audit_count_not_positive(limit), ok=False)
    return None
