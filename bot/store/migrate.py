"""Run Alembic migrations from inside the application (async engine, shared connection).

Every start of `bot` (each CLI command, `bot run`) upgrades the database. A database already
at the newest revision — nearly every start — is told by one query, inside the same write
transaction the upgrade would take (so a read-only SQLite file is still refused at start),
without importing Alembic: its import (with Mako and Pygments) was 0.3 s of every start.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.store.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Each migration's file starts with its revision id, and the ids are numbered in order
# (tests/test_store.py holds Alembic's own head to this)
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str:
    """The newest revision this code has: the highest-numbered migration file."""
    return max(match.group(1) for path in (MIGRATIONS_DIR / "versions").iterdir()
               if (match := _REVISION_FILE.match(path.name)))


async def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade the database to `revision` in one write transaction (nothing to do, and no
    Alembic, when it is at the head already)."""

    def _run(connection: Connection) -> None:
        if revision == "head" and _at_head(connection):
            return
        from alembic import command

        config = alembic_config(db.url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.write_engine.begin() as connection:
        await connection.run_sync(_run)


def _at_head(connection: Connection) -> bool:
    if not inspect(connection).has_table("alembic_version"):
        return False
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(found) == [head_revision()]


async def revisions(db: Database) -> tuple[str | None, str | None]:
    """The database's migration revision, and the newest this code has."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    with db.faults():
        async with db.engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision())
    return current, head
