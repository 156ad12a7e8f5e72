"""Bookkeeping shared by every repository: rows a statement changed, the database's id."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    MetaRow,
)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched (a DML statement's result is a
    CursorResult; the session's signature says only Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


async def database_id(session: AsyncSession) -> str:
    """This database's own id (migration 0006 wrote it)."""
    row = await session.get(MetaRow, "database_id")
    if row is None:
        raise LookupError("bot_meta has no database_id: run `bot migrate`")
    return row.value
