"""The plugin aggregate: plugin rows with their versions, settings and MCP server,
admins' approval rules, stored archives, and each replica's loads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.store.models import (
    ApprovalRuleRow,
    McpServerRow,
    PluginArchiveRow,
    PluginLoadRow,
    PluginRow,
    PluginVersionRow,
)
from bot.store.repositories.runs import live_replicas


class PluginRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, name: str) -> PluginRow | None:
        query = select(PluginRow).where(PluginRow.name == name)
        result = await self.session.execute(query.options(selectinload(PluginRow.versions)))
        return result.scalar_one_or_none()

    async def all(self) -> Sequence[PluginRow]:
        query = select(PluginRow).options(selectinload(PluginRow.versions))
        return (await self.session.execute(query.order_by(PluginRow.name))).scalars().all()

    async def names(self) -> list[str]:
        return list((await self.session.execute(select(PluginRow.name))).scalars().all())

    async def enabled_names(self) -> list[str]:
        query = select(PluginRow.name).where(PluginRow.enabled)
        return list((await self.session.execute(query)).scalars().all())

    async def free_sandbox_uid(self, candidates: range) -> int | None:
        """The lowest uid in `candidates` that no plugin holds yet."""
        taken = set((await self.session.execute(
            select(PluginRow.sandbox_uid).where(PluginRow.sandbox_uid.is_not(None)))
        ).scalars().all())
        return next((uid for uid in candidates if uid not in taken), None)

    async def any_of_source(self, source: str) -> bool:
        """Whether any plugin of this source exists (one indexed query, no rows loaded)."""
        query = select(exists().where(PluginRow.source == source))
        return bool((await self.session.execute(query)).scalar())

    async def local_mcp(self) -> dict[str, bool]:
        """The plugins of MCP_SERVERS' servers (stdio), and whether each is enabled."""
        query = (select(PluginRow.name, PluginRow.enabled)
                 .join(McpServerRow, McpServerRow.plugin_name == PluginRow.name)
                 .where(McpServerRow.transport == "stdio"))
        return {name: enabled for name, enabled in (await self.session.execute(query)).all()}

    async def remote_mcp(self) -> list[McpServerRow]:
        """The remote MCP servers (an admin's `mcp add`), enabled or not, by name."""
        query = (select(McpServerRow).where(McpServerRow.transport == "http")
                 .order_by(McpServerRow.plugin_name))
        return list((await self.session.execute(query)).scalars().all())

    def add(self, row: PluginRow) -> None:
        self.session.add(row)

    async def delete(self, name: str) -> None:
        await self.session.execute(delete(PluginRow).where(PluginRow.name == name))


def active_version(row: PluginRow) -> PluginVersionRow | None:
    """The version row a plugin row points at, if any."""
    return next((v for v in row.versions if v.version == row.active_version), None)


class ApprovalRuleRepository:
    """The admins' per-tool approval rules: tool name -> approval required."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> dict[str, bool]:
        rows = (await self.session.execute(select(ApprovalRuleRow))).scalars().all()
        return {row.tool: row.required for row in rows}

    async def replace(self, tool: str, required: bool | None, *, actor: str) -> None:
        """Set `tool`'s rule; None removes it (the plugin's own say holds again)."""
        await self.session.execute(delete(ApprovalRuleRow).where(ApprovalRuleRow.tool == tool))
        if required is not None:
            self.session.add(ApprovalRuleRow(tool=tool, required=required, set_by=actor))


class ArchiveRepository:
    """Uploaded archives, stored once by their sha256, and the versions that use them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sha256: str) -> PluginArchiveRow | None:
        return await self.session.get(PluginArchiveRow, sha256)

    async def keep(self, sha256: str, filename: str, data: bytes) -> None:
        """Store an archive (once: it is named by its content)."""
        if await self.get(sha256) is None:
            self.session.add(PluginArchiveRow(sha256=sha256, filename=filename,
                                              size=len(data), data=data))

    async def drop_unused(self) -> None:
        """Delete the archives no version points at any more."""
        used = exists().where(PluginVersionRow.archive_sha256 == PluginArchiveRow.sha256)
        await self.session.execute(delete(PluginArchiveRow).where(~used))

    async def versions_without_archive(self, under: str) -> Sequence[PluginVersionRow]:
        """The versions whose files live under the directory `under` (relative to the
        plugins dir) and that have no stored archive."""
        return (await self.session.execute(select(PluginVersionRow).where(
            PluginVersionRow.archive_sha256.is_(None),
            PluginVersionRow.path.startswith(f"{under}/")))).scalars().all()

    async def attach(self, version_id: int, sha256: str) -> None:
        """Point a version at its stored archive (if the version is still there)."""
        row = await self.session.get(PluginVersionRow, version_id)
        if row is not None:
            row.archive_sha256 = sha256


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
