"""Persistence: engine and unit of work, models, repositories, migrations."""

from bot.store.database import Database

__all__ = ["Database"]
