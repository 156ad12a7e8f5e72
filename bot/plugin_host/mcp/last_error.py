"""Each MCP server's last connection error, kept on its plugin row (`/plugin info` shows
it): its hosts report every outcome, and the row is written only when the error changes."""

from __future__ import annotations

from bot.store import Database
from bot.store.repositories import PluginRepository


class LastErrors:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[str, str | None] = {}  # the last error written, per plugin

    async def record(self, name: str, error: str | None) -> None:
        """Keep a server's last connection error (None: it answered) in its row."""
        if self._known.get(name, "") == error:
            return
        async with self._db.write() as session:
            row = await PluginRepository(session).get(name)
            if row is not None and row.mcp is not None:
                row.mcp.last_error = error
        self._known[name] = error

    def noted(self, name: str, error: str | None) -> None:
        """`error` was written with the row (`mcp add`): nothing to write for it again."""
        self._known[name] = error
