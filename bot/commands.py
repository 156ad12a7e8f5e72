"""`/plugin …` admin commands, shared by the console and Slack's slash command.

Parsing and dispatch only: the work is done by the plugin manager, the words come from
`messages` and `text_render`. Changing commands need an admin; a refused attempt is audited.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot import messages, text_render
from bot.errors import BotError, DatabaseFault
from bot.plugin_host import (
    NO_SETTINGS,
    McpServers,
    PluginManager,
    PluginSettings,
    parse_where,
    split_settings,
)
from bot.store.audit import AuditLog
from bot.store.run_records import RunRecords

HELP = """\
/plugin list                     every plugin, its version, status and tools
/plugin info NAME                details, permissions, versions and last error
/plugin tools [NAME]             the tools the agent can call (of one plugin)
/plugin enable NAME [in #chan ... | in dm | everywhere]
                                 offer a plugin's tools to the agent (there) (admins)
/plugin disable NAME [in #chan ...]
                                 stop offering them (there)                 (admins)
/plugin set NAME key=value ... [in #chan | everywhere]
                                 a setting its tools get; key= removes it   (admins)
/plugin settings NAME            the settings set with /plugin set
/plugin remove NAME              delete an uploaded plugin                  (admins)
/plugin versions NAME            installed versions, the active one starred
/plugin rollback NAME [VERSION]  go back to an earlier version              (admins)
/plugin reload                   re-read every plugin from disk and database (admins)
/plugin approval TOOL required|auto|default
                                 whether TOOL's calls wait for an admin   (admins)
/plugin mcp add NAME URL [header Name=value ...]
                                 add (or update) a remote MCP server, disabled (admins)
/plugin mcp accept NAME          offer the tools its server lists now, once reviewed (admins)
/plugin audit [N]                the last N audit entries (default 20)
/plugin runs [N]                 the last N agent runs and the tokens they used (default 20)
/plugin help                     this text"""

CHANGING = {"enable", "disable", "remove", "rollback", "reload", "approval", "mcp", "set"}
NEEDS_NAME = {"info", "enable", "disable", "remove", "versions", "rollback", "set",
              "settings"}


@dataclass(frozen=True)
class CommandResult:
    text: str
    ok: bool = True
    changed: bool = False


class PluginCommands:
    def __init__(self, manager: PluginManager, audit: AuditLog,
                 records: RunRecords | None = None, mcp: McpServers | None = None) -> None:
        self.manager = manager
        self.mcp = mcp
        self.audit = audit
        self.records = records
        self.settings = PluginSettings(manager)
        self._handlers: dict[str, Callable[[list[str], str], Awaitable[CommandResult]]] = {
            "list": self._list, "info": self._info, "tools": self._tools,
            "enable": self._enable, "disable": self._disable, "remove": self._remove,
            "versions": self._versions, "rollback": self._rollback, "reload": self._reload,
            "audit": self._audit, "runs": self._runs, "help": self._help,
            "approval": self._approval, "mcp": self._mcp, "set": self._set,
            "settings": self._settings}

    async def run(self, text: str, *, actor: str, is_admin: bool) -> CommandResult:
        """Run the text after `/plugin` (e.g. `enable netdiag`)."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            return CommandResult(messages.command_unparsable(exc, HELP), ok=False)
        if not words:
            return CommandResult(HELP)
        sub, args = words[0].lower(), words[1:]
        if sub not in self._handlers:
            close = difflib.get_close_matches(sub, list(self._handlers), n=1)
            return CommandResult(messages.unknown_subcommand(sub, close, HELP), ok=False)
        if sub in NEEDS_NAME and not args:
            return CommandResult(messages.command_needs_name(sub, HELP), ok=False)
        if sub in CHANGING and not is_admin:
            await self.audit.refusal(actor, sub, args[0] if args else "*",
                                     messages.not_admin(), best_effort=True)
            return CommandResult(messages.not_admin(), ok=False)
        if sub == "settings" and not is_admin:
            return CommandResult(messages.settings_admins_only(), ok=False)
        try:
            if sub == "info" and not is_admin:  # the same card, without the settings
                return CommandResult(text_render.plugin_detail(replace(
                    await self.manager.info(args[0]), settings=NO_SETTINGS)))
            return await self._handlers[sub](args, actor)
        except DatabaseFault as exc:
            return CommandResult(messages.change_not_saved(str(exc)), ok=False)
        except BotError as exc:
            return CommandResult(str(exc), ok=False)

    async def _list(self, args: list[str], actor: str) -> CommandResult:
        return CommandResult(text_render.plugin_list(await self.manager.list()))

    async def _info(self, args: list[str], actor: str) -> CommandResult:
        return CommandResult(text_render.plugin_detail(await self.manager.info(args[0])))

    async def _tools(self, args: list[str], actor: str) -> CommandResult:
        plugins = [await self.manager.info(args[0])] if args else await self.manager.list()
        return CommandResult(text_render.tool_list(plugins))

    async def _enable(self, args: list[str], actor: str) -> CommandResult:
        outcome = await self.manager.enable(args[0], actor=actor, where=parse_where(args[1:]))
        return CommandResult(outcome.message, changed=outcome.changed)

    async def _disable(self, args: list[str], actor: str) -> CommandResult:
        where = parse_where(args[1:])
        if where is not None and where.everywhere:  # `disable NAME everywhere` is plain disable
            where = None
        outcome = await self.manager.disable(args[0], actor=actor, where=where)
        return CommandResult(outcome.message, changed=outcome.changed)

    async def _set(self, args: list[str], actor: str) -> CommandResult:
        if len(args) < 2:
            return CommandResult(messages.settings_usage(), ok=False)
        pairs, where = split_settings(args[1:])
        text = await self.settings.set(args[0], pairs, where, actor=actor)
        return CommandResult(text, changed=True)

    async def _settings(self, args: list[str], actor: str) -> CommandResult:
        return CommandResult(text_render.settings_list(await self.manager.info(args[0])))

    async def _remove(self, args: list[str], actor: str) -> CommandResult:
        outcome = await self.manager.remove(args[0], actor=actor)
        return CommandResult(outcome.message, changed=True)

    async def _versions(self, args: list[str], actor: str) -> CommandResult:
        return CommandResult(text_render.version_list(await self.manager.info(args[0])))

    async def _rollback(self, args: list[str], actor: str) -> CommandResult:
        outcome = await self.manager.rollback(args[0], args[1] if len(args) > 1 else None,
                                              actor=actor)
        return CommandResult(outcome.message, changed=outcome.changed)

    async def _reload(self, args: list[str], actor: str) -> CommandResult:
        plugins = await self.manager.reload_all(actor=actor)
        return CommandResult(messages.reloaded(len(plugins)) + "\n\n"
                             + text_render.plugin_list(plugins), changed=True)

    async def _audit(self, args: list[str], actor: str) -> CommandResult:
        limit = _count(args)
        if isinstance(limit, CommandResult):
            return limit
        return CommandResult(text_render.audit_list(await self.audit.recent(limit)))

    async def _runs(self, args: list[str], actor: str) -> CommandResult:
        limit = _count(args)
        if isinstance(limit, CommandResult):
            return limit
        runs = await self.records.recent_usage(limit) if self.records is not None else []
        return CommandResult(text_render.run_list(runs))

    async def _approval(self, args: list[str], actor: str) -> CommandResult:
        if len(args) != 2:
            return CommandResult(messages.approval_usage(), ok=False)
        text = await self.manager.set_approval(args[0], args[1], actor=actor)
        return CommandResult(text, changed=True)

    async def _mcp(self, args: list[str], actor: str) -> CommandResult:
        if len(args) == 2 and args[0].lower() == "accept" and self.mcp is not None:
            outcome = await self.mcp.accept(args[1], actor=actor)
            return CommandResult(outcome.message, changed=True)
        if len(args) < 3 or args[0].lower() != "add" or self.mcp is None:
            return CommandResult(messages.mcp_usage(), ok=False)
        headers = parse_headers(args[3:])
        if isinstance(headers, str):
            return CommandResult(headers, ok=False)
        outcome = await self.mcp.add(args[1], slack_url(args[2]), headers, actor=actor)
        return CommandResult(outcome.message, changed=True)

    async def _help(self, args: list[str], actor: str) -> CommandResult:
        return CommandResult(HELP)


def parse_headers(words: list[str]) -> dict[str, str] | str:
    """`header Name=value ...` (Slack) as a dict, or the sentence saying what is wrong. A
    value may hold spaces (`header Authorization=Bearer abc`): words up to the next
    `header` belong to it. `Name: value` is accepted too. Values are never quoted back."""
    headers: dict[str, str] = {}
    current: str | None = None
    for word in words:
        if word.lower() == "header":
            current = None
            continue
        if current is None:
            name, sep, value = _split_header(word)
            if not sep:
                return messages.mcp_header_unparsable(word)
            current = name.strip()
            headers[current] = value.strip()
        else:
            headers[current] = f"{headers[current]} {word}".strip()
    return headers


def _split_header(word: str) -> tuple[str, str, str]:
    colon, equals = word.find(":"), word.find("=")
    if colon != -1 and (equals == -1 or colon < equals):
        return word.partition(":")
    return word.partition("=")


def slack_url(text: str) -> str:
    """A URL as Slack sends it in a command (`<https://x/mcp>` or `<https://x|label>`)."""
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1].split("|", 1)[0]
    return text


def loggable(line: str) -> str:
    """A command line as logs may show it: an `mcp add`'s header values left out."""
    words = line.split()
    lower = [word.lower() for word in words]
    if "header" in lower:
        return " ".join(words[:lower.index("header")]) + " header …"
    return line


def _count(args: list[str]) -> int | CommandResult:
    """How many entries `audit`/`runs` show: 20 by default, at most 200."""
    try:
        limit = int(args[0]) if args else 20
    except ValueError:
        return CommandResult(messages.audit_count_not_a_number(args[0]), ok=False)
    if limit < 1:
        return CommandResult(messages.audit_count_not_positive(limit), ok=False)
    return min(limit, 200)
