"""What every `bot …` subcommand shares: exit codes, the audit actor, and services built
from the settings and closed again."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.errors import BotError, ConfigError
from bot.terminal import os_user

if TYPE_CHECKING:
    from bot.app import Services
    from bot.config import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ACTOR_HELP = "who to record in the audit trail (default: cli:<os user>)"


def actor_of(args: argparse.Namespace) -> str:
    chosen = getattr(args, "actor", None) or getattr(args, "top_actor", None)
    if chosen:
        return str(chosen)
    return f"cli:{os_user()}"


async def with_services(settings: Settings,
                        action: Callable[[Services], Awaitable[int]]) -> int:
    from bot.app import build_services  # the whole app: imported by commands that use it

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
