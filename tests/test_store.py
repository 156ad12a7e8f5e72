"""The store: migrations agree with the models; SQLite is opened the way we promise."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.records import ToolCallRecord
from bot.store import Database
from bot.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision, upgrade
from bot.store.models import Base
from bot.store.repositories import ToolCallRepository
from bot.store.tool_log import ToolCallLog
from tests.helpers import postgres


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str | None]:
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must be installed in CI (.ci/run installs it)")
        yield None
        return
    with postgres.server() as base:
        yield base


async def database_url(backend: str, tmp_path: Path, pg_server: str | None) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'bot.db'}"
    if pg_server is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return await postgres.fresh_database(pg_server)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path,
             pg_server: str | None) -> AsyncIterator[Database]:
    database = Database(await database_url(request.param, tmp_path, pg_server))
    await upgrade(database)
    yield database
    await database.dispose()


async def test_migrations_and_models_agree(db: Database) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_upgrade_twice_is_harmless_and_reaches_head(db: Database) -> None:
    await upgrade(db)
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert head_revision() == head  # what a start at the head compares with, Alembic unloaded
    async with db.read() as session:
        version = (await session.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert version == [(head,)]


async def test_sqlite_pragmas(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's own settings")
    async with db.read() as session:
        async def pragma(name: str) -> object:
            return (await session.execute(text(f"PRAGMA {name}"))).scalar()
        assert await pragma("journal_mode") == "wal"
        assert await pragma("foreign_keys") == 1
        assert await pragma("synchronous") == 2  # FULL
        assert await pragma("busy_timeout") == 15000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_read_then_write_transactions_from_two_engines_never_interleave(
        backend: str, tmp_path: Path, pg_server: str | None) -> None:
    """Two processes' read-then-write transactions: none fails busy, none loses an update
    (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock)."""
    url = await database_url(backend, tmp_path, pg_server)
    first, second = Database(url), Database(url)
    await upgrade(first)
    async with first.write() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (0)"))

    async def bump(db: Database) -> None:
        async with db.write() as session:
            n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0.001)
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(bump(first if i % 2 else second) for i in range(40)))
    async with first.read() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 40
    await first.dispose()
    await second.dispose()


async def test_write_rolls_back_when_the_block_raises(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            await session.execute(text(
                "INSERT INTO audit_events (at, actor, action, target, outcome) "
                "VALUES ('2026-01-01', 'a', 'b', 'c', 'd')"))
            raise RuntimeError("boom")
    async with db.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM audit_events"))).scalar() == 0


def _call(tool: str) -> ToolCallRecord:
    return ToolCallRecord(run_id="r1", user="U1", channel="C1", thread_ts=None, tool=tool,
                          plugin="p", plugin_version="1", arguments="{}", duration_ms=1.0,
                          outcome="ok")


async def test_flush_returns_only_when_the_batch_being_written_is_in(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The background writer has taken a batch and is inside its transaction: a flush then
    (an audit read, shutdown) waits for it instead of returning with the rows in flight."""
    writing, release = asyncio.Event(), asyncio.Event()
    real_write = db.write

    @contextlib.asynccontextmanager
    async def held_write() -> AsyncIterator[Any]:
        writing.set()
        await release.wait()
        async with real_write() as session:
            yield session

    monkeypatch.setattr(db, "write", held_write)
    calls = ToolCallLog(db, interval=0)
    calls.record(_call("first"))
    await writing.wait()  # the writer holds "first"; nothing else is queued
    flushed = asyncio.create_task(calls.flush())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not flushed.done()
    release.set()
    await flushed
    async with db.read() as session:
        assert [row.tool for row in await ToolCallRepository(session).recent()] == ["first"]
    calls.record(_call("second"))
    assert [row.tool for row in await calls.recent()] == ["second", "first"]
    await calls.close()


def test_each_migration_file_is_named_by_its_revision_in_one_line_of_history() -> None:
    """head_revision() reads the head from the file names: each must start with its own
    revision id, and each revision must follow the one before."""
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    revisions = {r.revision: r for r in script.walk_revisions()}
    assert sorted(revisions) == [name[:4] for name in files]
    for number, name in enumerate(files, start=1):
        assert name[:4] == f"{number:04d}"
        assert revisions[name[:4]].down_revision == (f"{number - 1:04d}" if number > 1
                                                     else None)


def _mcp_columns(session: Any) -> set[str]:
    return {c["name"] for c in inspect(session.connection()).get_columns("mcp_servers")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_database_behind_is_upgraded_and_one_at_the_head_left_alone(
        backend: str, tmp_path: Path, pg_server: str | None) -> None:
    behind = Database(await database_url(backend, tmp_path, pg_server))
    try:
        await upgrade(behind, "0015")
        async with behind.read() as session:
            assert "pending_tools" not in await session.run_sync(_mcp_columns)
        await upgrade(behind)  # the one start-up call: 0015 -> head
        async with behind.read() as session:
            assert (await session.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalars().all() == [head_revision()]
            assert "pending_tools" in await session.run_sync(_mcp_columns)
        await upgrade(behind)  # at the head: one query, no change
    finally:
        await behind.dispose()


async def test_a_run_is_renewed_or_taken_over_never_both(db: Database) -> None:
    """The lease is on the run's own row: a take-over waits for it to run out, a renewal
    after the take-over finds the run gone (its replica says nothing more), and once one of
    the two wins the other cannot."""
    from bot.store.models import SlackRunRow
    from bot.store.repositories import RunState, SlackRunRepository

    lease = 0.3
    async with db.write() as session:
        row = await SlackRunRepository(session).add(channel="C1", thread_ts="1.0",
                                                    mention_ts="1.0", asker="U1", replica="a")
    async with db.write() as session:
        assert not await SlackRunRepository(session).take(row, lease)  # fresh: a holds it
        assert await SlackRunRepository(session).orphans(lease) == []
    await asyncio.sleep(lease + 0.1)
    async with db.write() as session:  # a renews just in time: b's take-over loses
        assert await SlackRunRepository(session).renew("a") == {row}
    async with db.write() as session:
        assert not await SlackRunRepository(session).take(row, lease)
    await asyncio.sleep(lease + 0.1)
    async with db.read() as session:
        assert [r.id for r in await SlackRunRepository(session).orphans(lease)] == [row]
    async with db.write() as session:  # b takes it over first: a's renewal finds it gone
        assert await SlackRunRepository(session).take(row, lease)
    async with db.write() as session:
        assert await SlackRunRepository(session).renew("a") == set()
        assert not await SlackRunRepository(session).take(row, lease)  # and only once
        taken = await session.get(SlackRunRow, row)
        assert taken is not None and taken.state == RunState.DONE


async def test_a_database_outage_never_slows_a_runs_writes_with_lease_renewals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its fresh window the lease is renewed before a write; while the database
    refuses, a run carries on (nobody can take it over either) and the renewal is tried at
    most once a tick, not before each of its many Slack writes."""
    from bot.errors import DatabaseFault
    from bot.store.shared_runs import SharedRuns

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await upgrade(db)
    shared = SharedRuns(db, lease=2.0, tick=0.5)
    tries: list[float] = []

    async def refused() -> None:
        tries.append(asyncio.get_running_loop().time())
        raise DatabaseFault("the database is away")

    try:
        monkeypatch.setattr(shared, "_beat", refused)
        assert all([await shared.holds(1) for _ in range(50)])  # never renewed: stale
        assert len(tries) == 1
        await asyncio.sleep(0.6)
        assert await shared.holds(1) and len(tries) == 2
    finally:
        await db.dispose()


async def test_runs_asking_for_the_lease_at_once_share_one_renewal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hundred runs' Slack writes find the lease due while the database is slow: they
    wait for one renewal together (before, each queued a write of its own, and the herd
    kept the database busier still)."""
    from bot.store.shared_runs import SharedRuns

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await upgrade(db)
    shared = SharedRuns(db, lease=2.0, tick=0.5)
    beats: list[int] = []
    real_beat = shared._beat

    async def slow() -> None:
        beats.append(1)
        await asyncio.sleep(0.2)  # a busy database
        await real_beat()

    try:
        monkeypatch.setattr(shared, "_beat", slow)
        assert all(await asyncio.gather(*(shared.holds(row) for row in range(100))))
        assert len(beats) == 1
        assert await shared.holds(1) and len(beats) == 1  # fresh now: no renewal at all
    finally:
        await db.dispose()
