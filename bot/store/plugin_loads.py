"""Each replica's rows of `plugin_loads`: where every plugin is loaded, or why not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import PluginLoadRow
from bot.store.shared_runs import live_replicas


class PluginLoadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, replica: str,
                      loads: Mapping[str, tuple[str | None, str | None]]) -> None:
        """`replica`'s rows become `loads`: plugin -> (version loaded, or None and why not)."""
        await self.drop(replica)
        self.session.add_all(PluginLoadRow(replica=replica, plugin_name=name, version=version,
                                           error=error)
                             for name, (version, error) in loads.items())

    async def drop(self, replica: str) -> None:
        await self.session.execute(delete(PluginLoadRow).where(PluginLoadRow.replica == replica))

    async def of_live_replicas(self, stale: float) -> tuple[int, Sequence[PluginLoadRow]]:
        """How many replicas beat within `stale` seconds, and their rows (by replica)."""
        alive = live_replicas(stale)
        count = await self.session.scalar(select(func.count()).select_from(alive.subquery()))
        rows = (await self.session.execute(select(PluginLoadRow).where(
            PluginLoadRow.replica.in_(alive)).order_by(PluginLoadRow.replica))).scalars().all()
        return int(count or 0), rows
