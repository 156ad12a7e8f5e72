"""One engine, two session factories: plain reads, and writes that begin IMMEDIATE."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot import messages
from bot.errors import DatabaseFault
from bot.store.urls import checked_database_url

log = logging.getLogger(__name__)
_IMMEDIATE = "bot_begin_immediate"
BUSY_TIMEOUT_MS = 15_000
WRITE_LOCK = 0x63686174  # "chat": the advisory lock every write transaction takes


class Database:
    """Owns the async engine; `read()` and `write()` are the only ways to get a session.

    On SQLite the connection is opened with WAL, a busy timeout, foreign keys and
    `synchronous=FULL`, and `write()` transactions start with `BEGIN IMMEDIATE`, so that a
    read-then-write transaction takes the write lock up front instead of failing with
    SQLITE_BUSY when another writer got there first (SQLAlchemy's documented recipe).
    """

    def __init__(self, url: str) -> None:
        url = checked_database_url(url)  # ConfigError: the setting is wrong
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path = sqlite_file(url)  # the SQLite file, absolute
        self.created = False  # whether opening it created the file
        self.label = str(self.path) if self.path else parsed.render_as_string(
            hide_password=True)
        self._file: tuple[int, int] | None = None  # the SQLite file's (device, inode)
        self._file_gone_told = False
        if self.path is not None:
            try:
                self.created = _create_private(self.path)
            except OSError as exc:
                raise DatabaseFault(messages.database_fault(
                    self.label, messages.database_file_unusable(exc))) from None
            self._file = _identity(self.path)
        self.engine: AsyncEngine = create_async_engine(url)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
        self.write_engine: AsyncEngine = self.engine.execution_options(**{_IMMEDIATE: True})
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writes = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; never takes the write lock."""
        self._require_same_file()
        with self.faults():
            async with self._reads() as session:
                yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back if it raises. One at a
        time, whichever process: SQLite's BEGIN IMMEDIATE; on PostgreSQL a transaction-level
        advisory lock, so that a read-then-write (a plugin transition, a vote, an output's
        budget) from two replicas cannot interleave."""
        self._require_same_file()
        with self.faults():
            async with self._writes() as session, session.begin():
                if not self.is_sqlite:
                    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                          {"key": WRITE_LOCK})
                yield session

    def _require_same_file(self) -> None:
        """The SQLite file must still be the one opened: deleted or replaced under the bot,
        its open connections would write to a file nobody will read again, and new ones to
        a new empty file that the next start would take for the database (settings and
        audit gone). Refused instead — every read and write, and so /readyz — until the
        file is back or the bot restarts; said once in the log. One stat(), a few µs."""
        if self._file is None or self.path is None:
            return
        found = _identity(self.path)
        if found == self._file:
            return
        if not self._file_gone_told:
            self._file_gone_told = True
            log.error("the database file %s was %s while the bot ran: nothing more is read "
                      "or written until it is back (or the bot restarts on the file there)",
                      self.path, "deleted" if found is None else "replaced")
        raise DatabaseFault(messages.database_fault(
            self.label, messages.database_file_gone(replaced=found is not None)))

    @contextmanager
    def faults(self) -> Iterator[None]:
        """Turn the driver's errors about the database itself into one DatabaseFault
        sentence; a constraint violation stays what it is (callers rely on it)."""
        try:
            yield
        except IntegrityError:
            raise
        except OSError as exc:  # a server that cannot be reached: asyncpg raises these raw
            raise DatabaseFault(messages.database_fault(
                self.label, messages.database_unreachable(exc))) from None
        except DBAPIError as exc:  # OperationalError, DatabaseError, asyncpg's own
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise DatabaseFault(messages.database_fault(
                self.label, messages.database_error(detail))) from exc

    async def ping(self) -> None:
        """One round trip to the database (the readiness probe's)."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def check(self) -> None:
        """At start: SQLite's own `quick_check` of the file; a corrupt file is refused."""
        if not self.is_sqlite:
            return
        with self.faults():
            async with self.engine.connect() as connection:
                rows = (await connection.execute(text("PRAGMA quick_check"))).scalars().all()
        if list(rows) != ["ok"]:
            raise DatabaseFault(messages.database_fault(
                self.label, messages.database_error("database disk image is malformed")))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see the begin hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
            "synchronous=FULL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The absolute path of the SQLite file a URL names; None for other databases (a
    ConfigError for a URL that is no database's)."""
    parsed = make_url(checked_database_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _create_private(path: Path) -> bool:
    """Create the database file owner-only (0600) before SQLite opens it; its WAL and shm
    files inherit the mode. Plugin workers, even when they share our user, never need it.
    Whether the file is new."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return False
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    return True
