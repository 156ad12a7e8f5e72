"""Persistence: engine and unit of work, models, repositories, migrations.

Only this package speaks SQL (an import contract holds that): the others take a `Session`
from `Database.read()`/`write()` and hand it to a repository.
"""

from sqlalchemy.ext.asyncio import AsyncSession as Session

from bot.store.database import Database

__all__ = ["Database", "Session"]
