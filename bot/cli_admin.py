"""`bot plugin list|info|enable|disable|set|settings|…|call|mcp add|accept` for operators: the
same implementation as Slack's /plugin (bot/commands.py); the operator is an admin."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from bot import messages
from bot.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, actor_of, with_services
from bot.errors import BotError

if TYPE_CHECKING:  # the app is imported by the handler that runs, not to parse the words
    from bot.app import Services
    from bot.commands import Actor, CommandResult, PluginCommands
    from bot.config import Settings
    from bot.plugin_host import Where


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`bot plugin list|reload|tools|info|enable|…|rollback|call|audit` for operators."""
    sub.add_parser("list", help="table of plugins").set_defaults(handler=_admin)
    sub.add_parser("reload", help="re-read every plugin from disk and database").set_defaults(
        handler=_admin)
    tools = sub.add_parser("tools", help="the tools the agent can call")
    tools.add_argument("name", nargs="?", default=None)
    tools.set_defaults(handler=_admin)
    for name, helptext in (("info", "details of one plugin"),
                           ("remove", "remove an uploaded plugin"),
                           ("versions", "installed versions of a plugin"),
                           ("settings", "the settings set with `plugin set`")):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("name")
        command.set_defaults(handler=_admin)
    for name, helptext in (("enable", "enable a plugin (everywhere, or in --channel …)"),
                           ("disable", "disable a plugin (or take it out of --channel …)")):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("name")
        _add_where(command)
    setting = sub.add_parser("set", help="settings its tools get in ctx.config (key= removes "
                             "one); everywhere, or in --channel …")
    setting.add_argument("name")
    setting.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    _add_where(setting)
    rollback = sub.add_parser("rollback", help="make an earlier installed version active")
    rollback.add_argument("name")
    rollback.add_argument("version", nargs="?", default=None,
                          help="default: the version installed before the active one")
    rollback.set_defaults(handler=_admin)
    _add_tool_commands(sub)


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """approval, call, audit, runs, mcp add, mcp accept."""
    approval = sub.add_parser("approval", help="whether a tool's calls wait for an admin")
    approval.add_argument("name", metavar="TOOL")
    approval.add_argument("mode", choices=["required", "auto", "default"])
    approval.set_defaults(handler=_admin)
    call = sub.add_parser("call", help="run one tool and print its result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    call.add_argument("--channel", default=None, metavar="ID",
                      help="call it as a run in this channel would (its scope and settings)")
    call.set_defaults(handler=_call)
    audit = sub.add_parser("audit", help="recent audit trail entries")
    audit.add_argument("limit", nargs="?", type=int, default=20)
    audit.set_defaults(handler=_admin)
    runs = sub.add_parser("runs", help="recent agent runs and the tokens they used")
    runs.add_argument("limit", nargs="?", type=int, default=20)
    runs.set_defaults(handler=_admin)
    mcp = sub.add_parser("mcp", help="MCP servers as plugins").add_subparsers(
        dest="mcp_command", metavar="add|accept", required=True)
    add = mcp.add_parser("add", help="add (or update) a remote MCP server; it stays disabled "
                         "until enabled", description=messages.mcp_usage())
    add.add_argument("name")
    add.add_argument("url", help="its streamable HTTP endpoint, e.g. https://host/mcp")
    add.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                     help="sent with every request; stored encrypted (needs BOT_SECRET_KEY)")
    add.set_defaults(handler=_mcp_add)
    accept = mcp.add_parser("accept", help="offer the tools an MCP server lists now, once "
                            "reviewed (its changed list waits for this)")
    accept.add_argument("name")
    accept.set_defaults(handler=_admin)


def _add_where(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument("--channel", action="append", default=[], metavar="ID",
                       help="a Slack channel ID (C0123ABCD) or dm; repeat for several")
    where.add_argument("--everywhere", action="store_true", help="every channel and DM")
    command.set_defaults(handler=_admin)


def _where(args: argparse.Namespace) -> Where | None:
    """--channel/--everywhere as a Where (None: neither given); BotError for a bad ID."""
    from bot.plugin_host import Where, parse_where

    if getattr(args, "everywhere", False):
        return Where()
    channels = getattr(args, "channel", None)  # set only where _add_where added it
    return parse_where(["in", *channels]) if channels else None


def _command(commands: PluginCommands, args: argparse.Namespace, by: Actor
             ) -> Awaitable[CommandResult]:
    """The typed call `args` names (BotError: a channel or setting that does not read)."""
    from bot.plugin_host import split_settings

    name: str = getattr(args, "name", None) or ""  # every command but list and reload
    match args.plugin_command:
        case "list":
            return commands.list(by=by)
        case "reload":
            return commands.reload(by=by)
        case "tools":
            return commands.tools(name or None, by=by)
        case "info":
            return commands.info(name, by=by)
        case "remove":
            return commands.remove(name, by=by)
        case "versions":
            return commands.versions(name, by=by)
        case "settings":
            return commands.settings_of(name, by=by)
        case "enable":
            return commands.enable(name, _where(args), by=by)
        case "disable":
            return commands.disable(name, _where(args), by=by)
        case "set":
            pairs, typed = split_settings(args.pairs)
            return commands.set(name, pairs, _where(args) or typed, by=by)
        case "rollback":
            return commands.rollback(name, args.version, by=by)
        case "approval":
            return commands.approval(name, args.mode, by=by)
        case "audit":
            return commands.audit_trail(args.limit, by=by)
        case "runs":
            return commands.runs(args.limit, by=by)
        case _:  # mcp accept (`mcp add` has its own handler)
            return commands.mcp_accept(name, by=by)


async def _admin(args: argparse.Namespace, settings: Settings) -> int:
    """The subcommands `/plugin` also has: one typed API (bot/commands) for the terminal,
    the console and Slack. The operator at the terminal is an admin."""
    from bot.commands import Actor, CommandResult

    async def action(services: Services) -> int:
        try:
            result = await _command(services.commands, args, Actor(actor_of(args), admin=True))
        except BotError as exc:  # as /plugin says it: the words did not read
            result = CommandResult(str(exc), ok=False)
        print(result.text, file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await with_services(settings, action)


async def _mcp_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands import Actor, parse_headers

    headers = parse_headers([word for h in args.header for word in ("header", h)])
    if isinstance(headers, str):
        print(f"bot: {headers}", file=sys.stderr)
        return EXIT_USAGE

    async def action(services: Services) -> int:
        result = await services.commands.mcp_add(args.name, args.url, headers,
                                                 by=Actor(actor_of(args), admin=True))
        if not result.ok:
            print(f"bot: {result.text}", file=sys.stderr)
            return EXIT_FAILED
        print(result.text)
        return EXIT_OK
    return await with_services(settings, action)


async def _call(args: argparse.Namespace, settings: Settings) -> int:
    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as exc:
        print(f"bot: {messages.call_arguments_not_json(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(arguments, dict):
        print(f"bot: {messages.call_arguments_not_object(type(arguments).__name__)}",
              file=sys.stderr)
        return EXIT_USAGE
    from bot.plugin_host import Caller

    async def action(services: Services) -> int:
        result = await services.registry.call(args.tool, arguments,
                                              Caller(user=actor_of(args), channel=args.channel))
        print(result.text, file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await with_services(settings, action)
