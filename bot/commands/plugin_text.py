"""`/plugin …` as typed (Slack's slash command, the console): the words read into one
call of `PluginCommands`. Reading only: a usage mistake is one sentence with the help."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable

from bot import messages
from bot.commands.api import Actor, CommandResult, PluginCommands
from bot.errors import BotError
from bot.plugin_host import parse_where, split_settings

HELP = messages.PLUGIN_HELP

CHANGING = {"enable", "disable", "remove", "rollback", "reload", "approval", "mcp", "set"}
NEEDS_NAME = {"info", "enable", "disable", "remove", "versions", "rollback", "set",
              "settings"}
Handler = Callable[[PluginCommands, list[str], Actor], Awaitable[CommandResult]]


async def run_text(commands: PluginCommands, text: str, *, by: Actor) -> CommandResult:
    """Run the text after `/plugin` (e.g. `enable netdiag in #prod`)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        return CommandResult(messages.command_unparsable(exc, HELP), ok=False)
    if not words:
        return CommandResult(HELP)
    sub, args = words[0].lower(), words[1:]
    handler = HANDLERS.get(sub)
    if handler is None:
        close = difflib.get_close_matches(sub, list(HANDLERS), n=1)
        return CommandResult(messages.unknown_subcommand(sub, close, HELP), ok=False)
    if sub in NEEDS_NAME and not args:
        return CommandResult(messages.command_needs_name(sub, HELP), ok=False)
    if sub in CHANGING and not by.admin:  # before its words: a stranger learns no usage
        return await commands.refuse(by, sub, args[0] if args else "*")
    try:
        return await handler(commands, args, by)
    except BotError as exc:  # the words did not read (a channel, a setting)
        return CommandResult(str(exc), ok=False)


async def _enable(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    return await commands.enable(args[0], parse_where(args[1:]), by=by)


async def _disable(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    return await commands.disable(args[0], parse_where(args[1:]), by=by)


async def _set(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    if len(args) < 2:
        return CommandResult(messages.settings_usage(), ok=False)
    pairs, where = split_settings(args[1:])
    return await commands.set(args[0], pairs, where, by=by)


async def _rollback(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    return await commands.rollback(args[0], args[1] if len(args) > 1 else None, by=by)


async def _approval(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    if len(args) != 2:
        return CommandResult(messages.approval_usage(), ok=False)
    return await commands.approval(args[0], args[1], by=by)


async def _mcp(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    if len(args) == 2 and args[0].lower() == "accept":
        return await commands.mcp_accept(args[1], by=by)
    if len(args) < 3 or args[0].lower() != "add":
        return CommandResult(messages.mcp_usage(), ok=False)
    headers = parse_headers(args[3:])
    if isinstance(headers, str):
        return CommandResult(headers, ok=False)
    return await commands.mcp_add(args[1], slack_url(args[2]), headers, by=by)


async def _audit(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    limit = _count(args)
    return limit if isinstance(limit, CommandResult) else await commands.audit_trail(
        limit, by=by)


async def _runs(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    limit = _count(args)
    return limit if isinstance(limit, CommandResult) else await commands.runs(limit, by=by)


async def _help(commands: PluginCommands, args: list[str], by: Actor) -> CommandResult:
    return CommandResult(HELP)


HANDLERS: dict[str, Handler] = {
    "list": lambda c, a, by: c.list(by=by),
    "info": lambda c, a, by: c.info(a[0], by=by),
    "tools": lambda c, a, by: c.tools(a[0] if a else None, by=by),
    "enable": _enable, "disable": _disable, "set": _set,
    "settings": lambda c, a, by: c.settings_of(a[0], by=by),
    "remove": lambda c, a, by: c.remove(a[0], by=by),
    "versions": lambda c, a, by: c.versions(a[0], by=by),
    "rollback": _rollback,
    "reload": lambda c, a, by: c.reload(by=by),
    "audit": _audit, "runs": _runs, "help": _help, "approval": _approval, "mcp": _mcp}


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
    """How many entries `audit`/`runs` show: 20 by default."""
    try:
        return int(args[0]) if args else 20
    except ValueError:
        return CommandResult(messages.audit_count_not_a_number(args[0]), ok=False)
