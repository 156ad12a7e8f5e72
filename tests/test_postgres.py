"""The store on a real PostgreSQL server (tests/helpers/postgres.py): every migration runs and
matches the models, and the bot's services work on it end to end — plugins enabled and
disabled with their audit, a run's tool calls, kept outputs, token usage and feedback, the
shared-run bookkeeping two replicas use. On CI the server is installed by .ci/run; where it
is missing the tests say so and skip."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.app import Services
from bot.plugin_host.contract.protocol import Caller
from bot.store import Database
from bot.store.changes import ChangeFeed
from bot.store.migrate import alembic_config, upgrade
from bot.store.models import Base
from tests.conftest import with_overrides
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import postgres
from tests.helpers.processes import run_bot


@pytest.fixture
def server(postgres_server: str) -> str:
    return postgres_server


@pytest.fixture
async def url(postgres_server: str) -> str:
    return await postgres.fresh_database(postgres_server)


async def test_every_migration_runs_and_matches_the_models(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        await upgrade(db)  # again: nothing to do

        def diff(connection: object) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        async with db.engine.connect() as connection:
            assert await connection.run_sync(diff) == []
        head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
        async with db.read() as session:
            version = (await session.execute(text("SELECT version_num FROM alembic_version"))
                       ).scalars().all()
        assert version == [head]
    finally:
        await db.dispose()


@pytest.fixture
def on_postgres(url: str, agent_services: Callable[..., Awaitable[Services]]
                ) -> Callable[..., Awaitable[Services]]:
    """The bot's services (a replica) on the PostgreSQL server, the model the fake OpenAI."""
    return partial(agent_services, database_url=url, openai_max_retries=0)


async def test_the_bots_services_work_on_postgres(
        on_postgres: Callable[..., Awaitable[Services]], fake_openai: FakeOpenAI,
        builtin: Callable[..., Path]) -> None:
    builtin("logs", tools={"fetch_logs": "return '\\n'.join(f'line {i}' for i in range(4000))"})
    services = await on_postgres()
    assert services.db.url.startswith("postgresql+asyncpg://")
    await services.plugins.enable("logs", actor="U_ADMIN")
    assert "fetch_logs" in services.registry.snapshot
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("fetch_logs", {"text": "x"}, "c1")])
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("read_tool_output", {
        "call_id": "c1", "grep": "line 3999$"}, "c2")])
    fake_openai.reply("The last line is 3999.")
    result = await services.runs.ask("what is the last line?",
                                     caller=Caller(user="U1", channel="C1"))
    assert result.ok, result.text
    assert fake_openai.messages(2)[-1]["content"].startswith("4000: line 3999")
    assert await services.records.vote(result.run_id, "U1", "good", channel="C1") is None
    assert await services.records.vote(result.run_id, "U1", "bad", channel="C1") == "good"
    usage = (await services.records.recent_usage(1))[0]
    assert (usage.run_id, usage.steps, usage.bad) == (result.run_id, 3, 1)
    await services.tool_log.flush()
    async with services.db.read() as session:
        calls = (await session.execute(text("SELECT tool FROM tool_calls ORDER BY id"))
                 ).scalars().all()
        kept = (await session.execute(text("SELECT count(*) FROM tool_outputs"))).scalar()
    assert calls == ["fetch_logs", "read_tool_output"] and kept == 0
    await services.plugins.disable("logs", actor="U_ADMIN")
    actions = [e.action for e in await services.audit.recent(5)]
    assert actions[:2] == ["disable", "enable"]


async def test_a_second_replica_sees_the_first_ones_state(
        on_postgres: Callable[..., Awaitable[Services]], builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    first, second = await on_postgres(), await on_postgres()
    await first.plugins.enable("alpha", actor="U_ADMIN")
    await second.plugins.refresh()
    assert "alpha_echo" in second.registry.snapshot
    assert (await second.plugins.info("alpha")).enabled


async def test_a_change_reaches_another_replica_at_once_by_notify(
        on_postgres: Callable[..., Awaitable[Services]], builtin: Callable[..., Path]) -> None:
    """Polling every 60 s: only NOTIFY can bring the enable over within a second."""
    import asyncio
    import time

    from bot.app import refresh_plugins

    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    first, second = await on_postgres(), await on_postgres()
    second.settings = with_overrides(second.settings, plugin_refresh_seconds=60)
    watcher = asyncio.create_task(refresh_plugins(second))
    try:
        for _ in range(200):  # until it listens (the positive signal), at most 2 s
            if "bot_changes" in await _listeners(second):
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await first.plugins.enable("alpha", actor="U_ADMIN")
        for _ in range(300):
            if "alpha_echo" in second.registry.snapshot:
                break
            await asyncio.sleep(0.01)
        assert "alpha_echo" in second.registry.snapshot
        assert time.monotonic() - started < 1.0
        await first.plugins.disable("alpha", actor="U_ADMIN")
        for _ in range(300):
            if "alpha_echo" not in second.registry.snapshot:
                break
            await asyncio.sleep(0.01)
        assert "alpha_echo" not in second.registry.snapshot
    finally:
        watcher.cancel()


async def _listeners(services: Services) -> set[str]:
    async with services.db.read() as session:
        rows = (await session.execute(text(
            "SELECT query FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"))).scalars().all()
    return {"bot_changes" for q in rows if "bot_changes" in q}


@pytest.mark.parametrize(("where", "says"), [
    ("/no_such_db", 'database "no_such_db" does not exist'),
    ("role", 'role "ghost" does not exist')])
def test_a_postgres_it_cannot_use_is_one_line_and_exit_2(server: str, tmp_path: Path,
                                                        where: str, says: str) -> None:

    url = (server.replace("postgres@", "ghost@") + "/postgres" if where == "role"
           else server + where)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATABASE_URL": url}
    done = run_bot(env, "plugin", "list", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("bot: The database postgresql+asyncpg://")
    assert says in done.stderr and len(done.stderr.splitlines()) == 1


async def test_a_feed_that_cannot_listen_says_so_once_per_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    """While the database is down every poll tries to LISTEN again: one warning, not one
    every PLUGIN_REFRESH_SECONDS."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/bot")
    feed = ChangeFeed(db)
    try:
        with caplog.at_level(logging.INFO, logger="bot.store.changes"):
            assert [await feed.start() for _ in range(3)] == [False, False, False]
    finally:
        await feed.close()
        await db.dispose()
    warned = [r for r in caplog.records if "cannot LISTEN for changes" in r.getMessage()]
    assert len(warned) == 1 and "polling only" in warned[0].getMessage()


async def test_an_approval_decision_and_a_stop_request_are_heard_at_once(url: str) -> None:
    """The waiting replica polls every 30 s here: only NOTIFY can bring either over."""
    import asyncio
    import time

    from bot.store.approvals import ApprovalRequest, ApprovalStatus, ApprovalStore
    from bot.store.changes import APPROVALS
    from bot.store.shared_runs import SharedRuns

    here, there = Database(url), Database(url)
    await upgrade(here)
    feed = ChangeFeed(here)
    stops: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    waiting = SharedRuns(here, feed=feed, tick=30)
    try:
        assert await feed.start()
        await ApprovalStore(there).request(ApprovalRequest("a1", "r1", "scale", "{}", "0" * 64,
                                                           "U1", "C1", "1.0"))
        seen = feed.heard[APPROVALS]
        started = time.monotonic()
        assert await ApprovalStore(there).decide("a1", ApprovalStatus.APPROVED, "U2", "ok")
        assert await feed.wait(APPROVALS, 10, seen) == seen + 1
        assert time.monotonic() - started < 1.0
        assert not await ApprovalStore(here).decide("a1", ApprovalStatus.DENIED, "U3", "no")

        async def lost(run: object) -> None:
            raise AssertionError(run)

        await waiting.start(on_stop=lambda run: stops.put_nowait((run, time.monotonic())),
                            on_lost=lost)
        row = await waiting.enqueue("E1", "C1", "1.0", "1.0", "U1")
        assert row is not None
        async with waiting.turn(row, "C1", "1.0", "1.0"):
            await waiting.running(row, "run-1", "1.1")
            started = time.monotonic()
            assert await SharedRuns(there).request_stop("run-1", "U2")
            run, at = await asyncio.wait_for(stops.get(), 10)
            assert run == "run-1" and at - started < 1.0
    finally:
        await waiting.close()
        await feed.close()
        await here.dispose()
        await there.dispose()
