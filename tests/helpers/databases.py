"""Each in-process test's SQLite database starts as a copy of one migrated to the head.

Migrating a new file runs all the revisions (0.2 s of CPU), and a run builds services on a
new database several hundred times. The template is migrated once per worker by the bot's
own `upgrade`; each copy gets an id of its own (bot_meta.database_id, which owns an uploads
directory), as a migration from nothing would give it. The migrations themselves are
tested from nothing in tests/test_store.py and tests/test_postgres.py, and every `bot`
process a test starts migrates its own new file."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.store import Database
from bot.store.migrate import upgrade

_template: Path | None = None
_lock = threading.Lock()


def migrated_sqlite_url(path: Path) -> str:
    """The URL of the SQLite file `path`, a migrated copy of the template unless it exists
    (a test that restarts its bot on the same file keeps what it wrote)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_template(), path)
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE bot_meta SET value = ? WHERE key = 'database_id'",
                               (uuid.uuid4().hex,))
        connection.close()
    return f"sqlite+aiosqlite:///{path}"


def _migrated_template() -> Path:
    global _template
    with _lock:
        if _template is None:
            path = Path(tempfile.mkdtemp(prefix="bot-template-")) / "template.db"
            with ThreadPoolExecutor(1) as pool:  # callable from inside a running loop too
                pool.submit(asyncio.run, _migrate(path)).result()
            _template = path
        return _template


async def _migrate(path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    with sqlite3.connect(path) as connection:  # everything in the main file, none in a WAL
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
