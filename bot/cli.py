"""Command line: `bot migrate`; `bot plugin list|info|enable|disable|remove|versions|rollback|
call|audit` for operators; `bot plugin new|pack|check|install` for plugin authors.

Exit codes: 0 success, 1 the operation failed (unknown name, refused, tool error result),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__, messages
from bot.cli_admin import add_admin_commands
from bot.cli_common import ACTOR_HELP, EXIT_FAILED, EXIT_OK, EXIT_USAGE, actor_of, with_services
from bot.errors import BotError, ConfigError
from bot.logs import configure as configure_logs
from bot.terminal import SafeStream

if TYPE_CHECKING:  # the app is imported by the commands that use it: `bot --help` and a
    from bot.app import Services  # setting's error need none of it
    from bot.config import Settings  # nor the settings' (pydantic, cryptography: ~0.2 s)
    from bot.slack.front_link import Launched

SETTINGS_EPILOG = ("Settings come from environment variables (DATABASE_URL, PLUGINS_DIR, "
                   "SLACK_*, OPENAI_*, …): see the README's 'Settings' table.")
Handler = Callable[[argparse.Namespace, "Settings"], Coroutine[Any, Any, int]]
LEFTOVER_SECONDS = 5.0  # after the drain and the services' close, for what still runs
log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    sys.stdout = SafeStream(sys.stdout)
    sys.stderr = SafeStream(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "secret-key":  # needs no settings (a bad BOT_SECRET_KEY is why)
        from bot.plugin_host import new_key

        print(new_key())
        return EXIT_OK
    if args.command == "doctor":  # reads the settings itself: a bad one is a failed check
        from bot.doctor import run_doctor

        logging.basicConfig(level="CRITICAL")
        return asyncio.run(run_doctor())
    from bot.config import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(settings, quiet=args.command in ("plugin", "console"))
    handler: Handler = args.handler
    if args.command == "run":
        try:
            args.front = _launch_front(settings)
        except ConfigError as exc:
            print(f"bot: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return asyncio.run(handler(args, settings))
    except KeyboardInterrupt:
        return 130
    finally:
        if getattr(args, "front", None) is not None:
            args.front.abandon()  # closed already when the bot served; else it exits now


def _launch_front(settings: Settings) -> Launched | None:
    """HTTP mode's Slack front, forked now: while this process has one thread and no event
    loop (bot/slack/front_link.py). None in Socket Mode, or when `run` will refuse to
    start."""
    if settings.slack_app_token is not None or settings.missing_for_run():
        return None
    from bot.slack.front_link import launch

    assert settings.slack_signing_secret is not None  # else missing_for_run named it
    return launch(settings.host, settings.port,
                  signing_secret=settings.slack_signing_secret.get_secret_value(),
                  probes=not settings.metrics_port, fork=True)


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
    console.add_argument("--channel", default="console", metavar="ID",
                         help="ask as if in this Slack channel (C0123ABCD) or dm: its "
                         "plugins and settings apply (default: plugins enabled everywhere)")
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
    add_admin_commands(sub)
    _add_gc_command(sub)
    _add_author_commands(sub)
    return parser


def _add_gc_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    configure_logs(level, settings.log_format)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    missing = settings.missing_for_run()
    if missing:
        print(f"bot: {messages.missing_for_run(missing)}", file=sys.stderr)
        return EXIT_USAGE
    from bot.app import settle_heap, stop_leftover_tasks
    from bot.slack.app import run

    async def action(services: Services) -> int:
        await asyncio.to_thread(lambda: services.workers.sandbox)  # logs which is in force
        if services.llm is not None:
            services.llm.prepare()  # not on the loop at the first question
        settle_heap()
        await run(services, front=args.front)
        return EXIT_OK
    code = await with_services(settings, action)
    stuck = await stop_leftover_tasks(LEFTOVER_SECONDS)
    if stuck:  # asyncio.run would wait for them forever: say which, and exit
        log.error("shutdown: %d task(s) did not stop within %.0f s; exiting anyway: %s",
                  len(stuck), LEFTOVER_SECONDS, "; ".join(stuck[:10]))
        logging.shutdown()
        os._exit(code)
    return code


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import refresh_plugins, settle_heap
    from bot.console import Console, ConsoleServices, console_channel

    async def action(services: Services) -> int:
        await asyncio.to_thread(lambda: services.workers.sandbox)  # logs which is in force
        if services.llm is not None:
            services.llm.prepare()  # not on the loop at the first question
        settle_heap()
        watcher = asyncio.create_task(refresh_plugins(services))
        try:
            return await Console(ConsoleServices.of(services),
                                 channel=console_channel(args.channel)).run()
        finally:
            watcher.cancel()
    return await with_services(settings, action)


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_database

    try:
        db = await open_database(settings.database_url)
    except ConfigError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    await db.dispose()
    print(messages.schema_current())
    return EXIT_OK


async def _install(args: argparse.Namespace, settings: Settings) -> int:
    from bot import text_render

    async def action(services: Services) -> int:
        result = await services.installer.install(args.path, actor=actor_of(args))
        print(text_render.install_result(result), file=sys.stdout if result.ok else sys.stderr)
        return EXIT_OK if result.ok else EXIT_FAILED
    return await with_services(settings, action)


async def _check(args: argparse.Namespace, settings: Settings) -> int:
    """Every install check, writing nothing: no database is created, migrated or changed."""
    from bot import text_render
    from bot.app import upload_checks

    checks, db = await upload_checks(settings)
    try:
        result = await checks.check(args.path)
    finally:
        if db is not None:
            await db.dispose()
    print(text_render.install_result(result), file=sys.stdout if result.ok else sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


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
        await services.installer.collect(doomed, actor=actor_of(args))
        print(messages.gc_done(len(doomed)))
        return EXIT_OK
    return await with_services(settings, action)


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _pack(args: argparse.Namespace, settings: Settings) -> int:
    from bot.plugin_host import pack_directory

    directory: Path = args.directory.resolve()
    try:
        data = pack_directory(directory)
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    output = args.output or Path(f"{directory.name}.zip")
    output.write_bytes(data)
    print(messages.packed(output, len(data)))
    return EXIT_OK


async def _new(args: argparse.Namespace, settings: Settings) -> int:
    from bot.plugin_host import BUILTINS, discover, scaffold

    try:
        root = scaffold(args.name, args.dir,
                        frozenset(discover(settings.plugins_dir / BUILTINS)))
    except BotError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(messages.scaffolded(root, args.name))
    return EXIT_OK
