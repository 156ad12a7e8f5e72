"""Command line: `bot migrate`; `bot plugin list|info|enable|disable|remove|versions|rollback|
call|audit` for operators; `bot plugin new|pack|check|install` for plugin authors.

Exit codes: 0 success, 1 the operation failed (unknown name, refused, tool error result),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bot import __version__, messages, text_render
from bot.app import Services, build_services, open_database
from bot.commands import PluginCommands, parse_headers
from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError
from bot.logs import formatter
from bot.plugin_host.credentials import new_key
from bot.plugin_host.discovery import BUILTINS, discover
from bot.plugin_host.packaging import pack_directory, scaffold
from bot.plugin_host.protocol import Caller
from bot.terminal import SafeStream, os_user

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SETTINGS_EPILOG = ("Settings come from environment variables (DATABASE_URL, PLUGINS_DIR, "
                   "SLACK_*, OPENAI_*, …): see the README's 'Settings' table.")
ACTOR_HELP = "who to record in the audit trail (default: cli:<os user>)"
Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def main(argv: Sequence[str] | None = None) -> int:
    sys.stdout = SafeStream(sys.stdout)  # type: ignore[assignment]
    sys.stderr = SafeStream(sys.stderr)  # type: ignore[assignment]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "secret-key":  # needs no settings (a bad BOT_SECRET_KEY is why)
        print(new_key())
        return EXIT_OK
    if args.command == "doctor":  # reads the settings itself: a bad one is a failed check
        from bot.doctor import run_doctor

        logging.basicConfig(level="CRITICAL")
        return asyncio.run(run_doctor())
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(settings, quiet=args.command in ("plugin", "console"))
    try:
        return asyncio.run(args.handler(args, settings))
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="Slack ChatOps bot for SRE teams.",
                                     epilog=SETTINGS_EPILOG)
    parser.add_argument("--version", action="version", version=f"bot {__version__}")
    parser.add_argument("--actor", dest="top_actor", default=None, help=ACTOR_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="connect to Slack: Socket Mode when SLACK_APP_TOKEN "
                              "is set, else HTTP on PORT at /slack/events",
                              description="Answer @mentions, /plugin, uploads, App Home and "
                              "approvals in Slack until SIGTERM/SIGINT. Needs SLACK_BOT_TOKEN "
                              "and SLACK_SIGNING_SECRET (HTTP on HOST:PORT at /slack/events) "
                              "or SLACK_APP_TOKEN (Socket Mode).", epilog=SETTINGS_EPILOG)
    run.set_defaults(handler=_run)

    console = commands.add_parser("console", help="the bot in a terminal: ask questions, "
                                  "run /plugin commands, upload plugins (no Slack needed)",
                                  description="The Slack bot's handlers in a terminal: "
                                  "questions go to the agent (OPENAI_API_KEY or "
                                  "OPENAI_BASE_URL), '/plugin …' and 'upload PATH' manage "
                                  "plugins as an admin. Ctrl-C stops an answer, Ctrl-D leaves.",
                                  epilog=SETTINGS_EPILOG)
    console.set_defaults(handler=_console)

    migrate = commands.add_parser("migrate", help="upgrade the database schema",
                                  description="Create the database if need be and bring its "
                                  "schema to this version (bot run does it at start).",
                                  epilog=SETTINGS_EPILOG)
    migrate.set_defaults(handler=_migrate)

    doctor = commands.add_parser("doctor", help="check settings, database, plugins, sandbox, "
                                 "Slack, model and cluster; one line each",
                                 description="One line per check, ✓ or ✗ with what to do; "
                                 "exit 1 if any fails. Changes nothing.",
                                 epilog=SETTINGS_EPILOG)
    doctor.set_defaults(handler=None)
    commands.add_parser("secret-key", help="print a new key for BOT_SECRET_KEY (it encrypts "
                        "MCP servers' header values in the database)").set_defaults(handler=None)

    plugin = commands.add_parser("plugin", help="manage plugins (same database as the bot)",
                                 epilog=SETTINGS_EPILOG)
    plugin.add_argument("--actor", default=None, help=ACTOR_HELP)
    sub = plugin.add_subparsers(dest="plugin_command", metavar="SUBCOMMAND", required=True)
    _add_admin_commands(sub)
    _add_author_commands(sub)
    return parser


def _add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`bot plugin list|reload|tools|info|enable|…|rollback|call|audit` for operators."""
    sub.add_parser("list", help="table of plugins").set_defaults(handler=_admin)
    sub.add_parser("reload", help="re-read every plugin from disk and database").set_defaults(
        handler=_admin)
    tools = sub.add_parser("tools", help="the tools the agent can call")
    tools.add_argument("name", nargs="?", default=None)
    tools.set_defaults(handler=_admin)
    for name, helptext in (("info", "details of one plugin"), ("enable", "enable a plugin"),
                           ("disable", "disable a plugin"),
                           ("remove", "remove an uploaded plugin"),
                           ("versions", "installed versions of a plugin")):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("name")
        command.set_defaults(handler=_admin)
    rollback = sub.add_parser("rollback", help="make an earlier installed version active")
    rollback.add_argument("name")
    rollback.add_argument("version", nargs="?", default=None,
                          help="default: the version installed before the active one")
    rollback.set_defaults(handler=_admin)
    approval = sub.add_parser("approval", help="whether a tool's calls wait for an admin")
    approval.add_argument("name", metavar="TOOL")
    approval.add_argument("mode", choices=["required", "auto", "default"])
    approval.set_defaults(handler=_admin)
    call = sub.add_parser("call", help="run one tool and print its result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    call.set_defaults(handler=_call)
    audit = sub.add_parser("audit", help="recent audit trail entries")
    audit.add_argument("limit", nargs="?", type=int, default=20)
    audit.set_defaults(handler=_admin)
    runs = sub.add_parser("runs", help="recent agent runs and the tokens they used")
    runs.add_argument("limit", nargs="?", type=int, default=20)
    runs.set_defaults(handler=_admin)
    mcp = sub.add_parser("mcp", help="MCP servers as plugins").add_subparsers(
        dest="mcp_command", metavar="add", required=True)
    add = mcp.add_parser("add", help="add (or update) a remote MCP server; it stays disabled "
                         "until enabled", description=messages.mcp_usage())
    add.add_argument("name")
    add.add_argument("url", help="its streamable HTTP endpoint, e.g. https://host/mcp")
    add.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                     help="sent with every request; stored encrypted (needs BOT_SECRET_KEY)")
    add.set_defaults(handler=_mcp_add)
    gc = sub.add_parser("gc", help="delete uploaded plugin files no installed version uses "
                        "(lists them and asks first)")
    gc.add_argument("--yes", action="store_true", help="delete without asking")
    gc.set_defaults(handler=_gc)


def _add_author_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`bot plugin install|check|pack|new` for plugin authors."""
    for name, helptext, handler in (
            ("install", "install a plugin from a .zip, a .py or a package directory", _install),
            ("check", "run every install check on a plugin without installing it", _check)):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("path", type=Path)
        command.set_defaults(handler=handler)
    pack = sub.add_parser("pack", help="build an upload .zip from a plugin package directory")
    pack.add_argument("directory", type=Path)
    pack.add_argument("-o", "--output", type=Path, default=None,
                      help="where to write the zip (default: ./<name>.zip)")
    pack.set_defaults(handler=_pack)
    new = sub.add_parser("new", help="scaffold a working plugin, with a test")
    new.add_argument("name")
    new.add_argument("--dir", type=Path, default=Path("."), help="parent directory")
    new.set_defaults(handler=_new)


def _configure_logging(settings: Settings, *, quiet: bool) -> None:
    level = settings.log_level
    if quiet and level != "DEBUG":
        level = "ERROR"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    logging.basicConfig(level=level, handlers=[handler])


def _actor(args: argparse.Namespace) -> str:
    chosen = getattr(args, "actor", None) or getattr(args, "top_actor", None)
    if chosen:
        return str(chosen)
    return f"cli:{os_user()}"


async def _with_services(settings: Settings,
                         action: Callable[[Services], Awaitable[int]]) -> int:
    try:
        services = await build_services(settings)
    except ConfigError as exc:  # a setting, or what it names, is unusable
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for notice in services.notices:
        print(f"bot: {notice}", file=sys.stderr)
    try:
        return await action(services)
    except ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BotError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    finally:
        await services.close()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    missing = settings.missing_for_run()
    if missing:
        print(f"bot: {messages.missing_for_run(missing)}", file=sys.stderr)
        return EXIT_USAGE
    from bot.app import settle_heap
    from bot.slack.app import run

    async def action(services: Services) -> int:
        await asyncio.to_thread(lambda: services.workers.sandbox)  # logs which is in force
        settle_heap()
        await run(services)
        return EXIT_OK
    return await _with_services(settings, action)


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import refresh_plugins, settle_heap
    from bot.console import Console

    async def action(services: Services) -> int:
        await asyncio.to_thread(lambda: services.workers.sandbox)  # logs which is in force
        settle_heap()
        watcher = asyncio.create_task(refresh_plugins(services))
        try:
            return await Console(services).run()
        finally:
            watcher.cancel()
    return await _with_services(settings, action)


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        db = await open_database(settings.database_url)
    except ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    await db.dispose()
    print("Database schema is up to date.")
    return EXIT_OK


async def _admin(args: argparse.Namespace, settings: Settings) -> int:
    """The subcommands `/plugin` also has: one implementation (bot/commands.py) for the
    terminal, the console and Slack. The operator at the terminal is an admin."""
    words = [args.plugin_command] + [str(value) for value in (
        getattr(args, "name", None), getattr(args, "version", None),
        getattr(args, "limit", None), getattr(args, "mode", None)) if value is not None]

    async def action(services: Services) -> int:
        commands = PluginCommands(services.plugins, services.audit, services.records,
                                  mcp=services.mcp)
        result = await commands.run(shlex.join(words), actor=_actor(args), is_admin=True)
        print(result.text, file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await _with_services(settings, action)


async def _mcp_add(args: argparse.Namespace, settings: Settings) -> int:
    headers = parse_headers([word for h in args.header for word in ("header", h)])
    if isinstance(headers, str):
        print(f"bot: {headers}", file=sys.stderr)
        return EXIT_USAGE

    async def action(services: Services) -> int:
        try:
            outcome = await services.mcp.add(args.name, args.url, headers, actor=_actor(args))
        except BotError as exc:
            print(f"bot: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(outcome.message)
        return EXIT_OK
    return await _with_services(settings, action)


async def _call(args: argparse.Namespace, settings: Settings) -> int:
    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as exc:
        print(f"bot: ARGUMENTS must be a JSON object, e.g. '{{\"host\": \"example.com\"}}' "
              f"({exc})", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(arguments, dict):
        print(f"bot: ARGUMENTS must be a JSON object, got {type(arguments).__name__}",
              file=sys.stderr)
        return EXIT_USAGE

    async def action(services: Services) -> int:
        result = await services.registry.call(args.tool, arguments,
                                              Caller(user=_actor(args)))
        print(result.text, file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await _with_services(settings, action)


async def _install(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        result = await services.installer.install(args.path, actor=_actor(args))
        print(text_render.install_result(result), file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await _with_services(settings, action)


async def _check(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        result = await services.installer.check(args.path)
        print(text_render.install_result(result), file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await _with_services(settings, action)


async def _gc(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        doomed = await services.installer.unreferenced()
        if not doomed:
            print(messages.gc_nothing(services.installer.uploads))
            return EXIT_OK
        print(messages.gc_listing(len(doomed)))
        for path in doomed:
            print(f"  {path}")
        if not args.yes and not _confirm(messages.gc_question(len(doomed))):
            print(messages.gc_kept())
            return EXIT_FAILED
        await services.installer.collect(doomed, actor=_actor(args))
        print(messages.gc_done(len(doomed)))
        return EXIT_OK
    return await _with_services(settings, action)


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _pack(args: argparse.Namespace, settings: Settings) -> int:
    directory: Path = args.directory.resolve()
    try:
        data = pack_directory(directory)
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    output = args.output or Path(f"{directory.name}.zip")
    output.write_bytes(data)
    print(f"Wrote {output} ({len(data):,} bytes). Check it with: bot plugin check {output}")
    return EXIT_OK


async def _new(args: argparse.Namespace, settings: Settings) -> int:
    try:
        root = scaffold(args.name, args.dir,
                        frozenset(discover(settings.plugins_dir / BUILTINS)))
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Created {root}/ with a tool '{args.name}_greet' and tests/.\n"
          f"Next: edit {root}/__init__.py, run `pytest {root}/tests`, then\n"
          f"  bot plugin check {root}\n  bot plugin install {root}")
    return EXIT_OK
