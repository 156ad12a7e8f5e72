"""Database work per mention: statements, transactions and rollbacks the bot makes to
answer one @mention (the Slack endpoint in this process, HTTP mode, SQLite, the fake Slack
and the fake model; no tools, then one tool call), counted on the engine itself and
grouped by statement. Run: python bench/bench_db_trips.py [--detail]"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from sqlalchemy import event

from bench.common import machine, markdown_table
from bot import messages
from tests.conftest import with_overrides
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers.databases import migrated_sqlite_url
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.slack_harness import SlackSender, until

MENTIONS = 20
QUIET = 3.0  # seconds after the last answer, so background writes are counted too


class Counter:
    def __init__(self) -> None:
        self.statements: collections.Counter[str] = collections.Counter()
        self.commits = self.rollbacks = self.begins = self.hops = 0

    def attach(self, engine: Any) -> None:
        import aiosqlite.core

        original = aiosqlite.core.Connection._execute

        async def counted(connection: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.hops += 1  # one hand-over to the connection's thread and back
            return await original(connection, fn, *args, **kwargs)

        aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
            self.statements[_shape(text)] += 1

        @event.listens_for(sync, "begin")
        def begin(conn: Any) -> None:
            self.begins += 1

        @event.listens_for(sync, "commit")
        def commit(conn: Any) -> None:
            self.commits += 1

        @event.listens_for(sync, "rollback")
        def rollback(conn: Any) -> None:
            self.rollbacks += 1

    def reset(self) -> None:
        self.statements.clear()
        self.commits = self.rollbacks = self.begins = self.hops = 0


def _answered(slack: FakeSlack, thread_ts: str) -> bool:
    """Streamed and stopped, or posted whole (once the workspace's Tier 2 budget for new
    streams is spent, answers are posted)."""
    return any(s["thread_ts"] == thread_ts and s["state"] == "stopped"
               for s in slack.streams.values()) or any(
        c.get("thread_ts") == thread_ts and c["text"] != messages.WORKING
        for c in slack.calls_to("chat.postMessage"))


def _shape(text: str) -> str:
    """A statement without its values: its verb and table."""
    text = " ".join(text.split())
    verb = text.split(" ", 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else text[:40]}"


async def measure(tmp: Path, with_tool: bool) -> tuple[Counter, int]:
    import logging

    from bot.app import build_services
    from bot.config import load_settings
    from bot.slack.app import build_slack_app, serve_http

    logging.getLogger("bot").setLevel(logging.ERROR)  # the fake has no thread history
    slack, model = FakeSlack().start(), FakeOpenAI().start()
    plugins = tmp / "plugins"
    write_plugin(plugins / "builtins", "alpha")
    settings = with_overrides(
        load_settings(database_url=migrated_sqlite_url(tmp / "bot.db"),
                      plugins_dir=str(plugins)),
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url, openai_base_url=model.base_url,
        openai_api_key=model.api_key, plugin_sandbox="process", slack_streaming="on")
    services = await build_services(settings, default_enabled=frozenset({"alpha"}))
    counter = Counter()
    counter.attach(services.db.engine)
    endpoint = build_slack_app(services)
    await endpoint.start()
    await services.plugins.join(endpoint.shared.replica)
    front = await serve_http(endpoint, port=0, host="127.0.0.1")
    port = front.port
    session = aiohttp.ClientSession()
    sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", slack, session,
                         itertools.count(100))
    try:
        for i in range(2):  # warm: the first mention builds caches
            model.reply(f"warm {i}")
            ts, _ = await sender.mention("warm")
            await until(functools.partial(_answered, slack, ts), 20)
        await asyncio.sleep(QUIET)
        counter.reset()
        answered = 0
        for i in range(MENTIONS):
            if with_tool:
                model.reply(tool_calls=[FakeOpenAI.tool_call("alpha_echo", {"text": "x"}, f"c{i}")])
            model.reply(f"answer {i}")
            ts, _ = await sender.mention(f"question {i}")
            answered += await until(functools.partial(_answered, slack, ts), 20)
        await asyncio.sleep(QUIET)
        return counter, answered
    finally:
        await session.close()
        await front.close()
        await endpoint.drain()
        await services.plugins.leave()
        await services.close()
        slack.stop()
        model.stop()


def main() -> None:
    detail = "--detail" in sys.argv
    rows, details = [], []
    for with_tool in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            counter, answered = asyncio.run(measure(Path(tmp), with_tool))
        n = answered or 1
        label = "one tool call" if with_tool else "no tools"
        total = sum(counter.statements.values())
        rows.append([label, f"{answered}/{MENTIONS}", f"{total / n:.1f}",
                     f"{counter.commits / n:.1f}", f"{counter.rollbacks / n:.1f}",
                     f"{counter.hops / n:.1f}"])
        details.append((label, counter.statements, n))
    print(f"Machine: {machine()}\n")
    print(markdown_table(["answer", "answered", "statements per mention",
                          "commits per mention", "rollbacks per mention",
                          "aiosqlite thread round trips per mention"], rows))
    if detail:
        for label, statements, n in details:
            print(f"\n{label}:\n")
            print(markdown_table(["statement", "per mention"],
                                 [[k, f"{v / n:.2f}"] for k, v in statements.most_common()]))


if __name__ == "__main__":
    main()
