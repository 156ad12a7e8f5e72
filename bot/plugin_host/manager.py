"""PluginManager: keeps the database, the loaded plugins and the registry in step.

The database holds what *should* be (enabled, active version) and what became of it
(status, error). Admin operations are serialised by one lock and each ends in one
transaction plus one registry publish; readers use the registry snapshot or a read session
and never wait for the lock.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import messages
from bot.errors import ConflictError, NotFoundError, PluginError
from bot.plugin_host.discovery import BUILTINS, UPLOADS, discover
from bot.plugin_host.hosts import InProcessHost, PluginHost
from bot.plugin_host.info import PluginInfo, plugin_info
from bot.plugin_host.loader import content_sha256
from bot.plugin_host.protocol import (
    STATUS_DISABLED,
    STATUS_ENABLED,
    STATUS_ERROR,
    LoadedPlugin,
    Manifest,
    ToolSpec,
)
from bot.plugin_host.registry import Registry, Tool
from bot.store import Database
from bot.store.models import AuditEvent, PluginRow, PluginVersionRow
from bot.store.repositories import AuditRepository, PluginRepository, active_version

log = logging.getLogger(__name__)

DEFAULT_ENABLED_BUILTINS = frozenset({"kubectl", "k8sgpt"})
UploadHostFactory = Callable[[PluginRow, PluginVersionRow, Path], PluginHost]


@dataclass
class _Active:
    version: str
    host: PluginHost
    plugin: LoadedPlugin
    config: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What an admin operation did, ready to show: a sentence and the plugin's new state."""

    message: str
    plugin: PluginInfo | None
    changed: bool


class PluginManager:
    def __init__(self, *, db: Database, registry: Registry, plugins_dir: Path,
                 tool_timeout: float = 30.0, executor: Executor | None = None,
                 default_enabled: Iterable[str] = DEFAULT_ENABLED_BUILTINS,
                 upload_hosts: UploadHostFactory | None = None) -> None:
        self.db = db
        self.registry = registry
        self.plugins_dir = plugins_dir
        self.tool_timeout = tool_timeout
        self.default_enabled = frozenset(default_enabled)
        self._executor = executor
        self._upload_hosts = upload_hosts
        self._lock = asyncio.Lock()
        self._active: dict[str, _Active] = {}

    # -- reads: never take the lock -------------------------------------------------------

    async def list(self) -> list[PluginInfo]:
        async with self.db.read() as session:
            return [plugin_info(row) for row in await PluginRepository(session).all()]

    async def info(self, name: str) -> PluginInfo:
        async with self.db.read() as session:
            return plugin_info(await self._require(PluginRepository(session), name))

    async def audit(self, limit: int = 20, *, target: str | None = None) -> list[AuditEvent]:
        async with self.db.read() as session:
            return list(await AuditRepository(session).recent(limit, target=target))

    # -- admin operations: serialised ------------------------------------------------------

    async def start(self, *, actor: str = "system") -> None:
        """Sync builtins on disk with the database, load every enabled plugin, publish."""
        async with self._lock:
            await self._sync_all(actor=actor)

    async def reload_all(self, *, actor: str) -> list[PluginInfo]:
        """Re-read every plugin from disk and database, as at start-up."""
        async with self._lock:
            await self._sync_all(actor=actor)
            async with self.db.write() as session:
                AuditRepository(session).record(actor=actor, action="reload", target="*",
                                                outcome="ok")
        return await self.list()

    async def enable(self, name: str, *, actor: str) -> Outcome:
        async with self._lock:
            async with self.db.read() as session:
                row = await self._require(PluginRepository(session), name)
            if row.enabled and name in self._active:
                return Outcome(messages.already_enabled(name), plugin_info(row), changed=False)
            try:
                active = await self._open(row)
            except PluginError as exc:
                await self._mark_error(name, str(exc), actor=actor, action="enable")
                raise
            clash = self._clash(name, active.plugin.tools)
            if clash:
                await active.host.close()
                text = messages.tool_clash(name, *clash)
                await self._audit(actor, "enable", name, "refused", text)
                raise ConflictError(text)
            async with self.db.write() as session:
                row = await self._require(PluginRepository(session), name)
                if row.source == "builtin":
                    self._record_builtin_version(row, active)
                row.enabled, row.status, row.error = True, STATUS_ENABLED, None
                row.consecutive_failures = 0
                AuditRepository(session).record(actor=actor, action="enable", target=name,
                                                outcome="ok", detail=active.version)
                info = plugin_info(row)
            await self._swap(name, active)
            return Outcome(messages.enabled(name, active.version, info.tool_names), info, True)

    async def disable(self, name: str, *, actor: str, reason: str | None = None) -> Outcome:
        async with self._lock:
            async with self.db.write() as session:
                row = await self._require(PluginRepository(session), name)
                was_on = row.enabled or name in self._active
                row.enabled = False
                row.status = STATUS_ERROR if reason else STATUS_DISABLED
                row.error = reason
                if was_on:
                    AuditRepository(session).record(actor=actor, action="disable", target=name,
                                                    outcome="ok", detail=reason)
                info = plugin_info(row)
            await self._swap(name, None)
            text = messages.disabled(name) if was_on else messages.already_disabled(name)
            return Outcome(text, info, was_on)

    async def remove(self, name: str, *, actor: str) -> Outcome:
        async with self._lock:
            async with self.db.write() as session:
                repo = PluginRepository(session)
                row = await self._require(repo, name)
                if row.source == "builtin":
                    text = messages.builtin_not_removable(name)
                    AuditRepository(session).record(actor=actor, action="remove", target=name,
                                                    outcome="refused", detail=text)
                else:
                    await repo.delete(name)
                    AuditRepository(session).record(actor=actor, action="remove", target=name,
                                                    outcome="ok")
            if row.source == "builtin":
                raise ConflictError(text)
            await self._swap(name, None)
            shutil.rmtree(self.plugins_dir / UPLOADS / name, ignore_errors=True)
            return Outcome(messages.removed(name), None, True)

    async def refresh(self) -> bool:
        """Apply changes another process (the CLI, another replica) made in the database."""
        async with self._lock:
            async with self.db.read() as session:
                rows = {row.name: row for row in await PluginRepository(session).all()}
            changed = False
            for name in [n for n in self._active if n not in rows]:
                await self._swap(name, None)
                changed = True
            for row in rows.values():
                want = row.enabled and row.status == STATUS_ENABLED
                have = self._active.get(row.name)
                if have and (not want or have.version != row.active_version):
                    await self._swap(row.name, None)
                    changed, have = True, None
                if want and have is None:
                    changed |= await self._try_activate(row)
            return changed

    async def close(self) -> None:
        async with self._lock:
            for name in list(self._active):
                await self._swap(name, None, publish=False)
            self.registry.publish(())

    # -- internals -----------------------------------------------------------------------

    async def _require(self, repo: PluginRepository, name: str) -> PluginRow:
        row = await repo.get(name)
        if row is None:
            close = difflib.get_close_matches(name, await repo.names(), n=2, cutoff=0.5)
            raise NotFoundError("plugin", name, close)
        return row

    async def _sync_all(self, *, actor: str) -> None:
        builtins = discover(self.plugins_dir / BUILTINS)
        loaded: dict[str, _Active | PluginError] = {}
        for name, path in builtins.items():
            loaded[name] = await self._load_builtin(name, path)
        previous, self._active = self._active, {}
        async with self.db.write() as session:
            repo = PluginRepository(session)
            audit = AuditRepository(session)
            rows = {row.name: row for row in await repo.all()}
            for name in builtins:
                if name not in rows:
                    rows[name] = PluginRow(name=name, source="builtin", status=STATUS_DISABLED,
                                           enabled=name in self.default_enabled, versions=[],
                                           config={}, consecutive_failures=0)
                    repo.add(rows[name])
            for name, row in sorted(rows.items()):
                before = (row.status, row.error)
                candidate = loaded.pop(name, None) if row.source == "builtin" else None
                await self._settle(row, candidate, on_disk=name in builtins)
                if (row.status, row.error) != before and row.status == STATUS_ERROR:
                    audit.record(actor=actor, action="load", target=name, outcome="error",
                                 detail=row.error)
        for leftover in loaded.values():  # builtins shadowed by an upload of the same name
            if isinstance(leftover, _Active):
                await leftover.host.close()
        self._publish()
        for old in previous.values():
            await old.host.close()

    async def _settle(self, row: PluginRow, candidate: _Active | PluginError | None, *,
                      on_disk: bool) -> None:
        """Decide one plugin's status at start-up; activate it when it should be on."""
        if row.source == "builtin" and not on_disk:
            row.status, row.error = STATUS_ERROR, messages.files_missing(f"{BUILTINS}/{row.name}")
            return
        if isinstance(candidate, PluginError):
            row.status, row.error = STATUS_ERROR, str(candidate)
            return
        if candidate is not None:
            self._record_builtin_version(row, candidate)
        if not row.enabled:
            row.status, row.error = STATUS_DISABLED, None
            if candidate is not None:
                await candidate.host.close()
            return
        try:
            active = candidate or await self._open(row)
        except PluginError as exc:
            row.status, row.error = STATUS_ERROR, str(exc)
            return
        clash = self._clash(row.name, active.plugin.tools)
        if clash:
            await active.host.close()
            row.status, row.error = STATUS_ERROR, messages.tool_clash(row.name, *clash)
            return
        active.config = dict(row.config or {})
        self._active[row.name] = active
        row.status, row.error = STATUS_ENABLED, None

    async def _load_builtin(self, name: str, path: Path) -> _Active | PluginError:
        host = InProcessHost(path, name=name, executor=self._executor)
        try:
            plugin = await host.load()
        except PluginError as exc:
            log.error("builtin plugin %s failed to load: %s", name, exc)
            return exc
        return _Active(plugin.manifest.version, host, plugin, {})

    async def _open(self, row: PluginRow) -> _Active:
        """Load the code for `row` (builtin from disk; upload through its host factory)."""
        if row.source == "builtin":
            path = discover(self.plugins_dir / BUILTINS).get(row.name)
            if path is None:
                raise PluginError(row.name, [messages.files_missing(f"{BUILTINS}/{row.name}")])
            loaded = await self._load_builtin(row.name, path)
            if isinstance(loaded, PluginError):
                raise loaded
            loaded.config = dict(row.config or {})
            return loaded
        version = active_version(row)
        if version is None:
            raise PluginError(row.name, ["no installed version is active"])
        path = self.plugins_dir / version.path
        if not path.exists():
            raise PluginError(row.name, [messages.files_missing(version.path)])
        if self._upload_hosts is None:
            raise PluginError(row.name, [messages.no_sandbox_for_uploads()])
        plugin = LoadedPlugin(Manifest.from_dict(version.manifest),
                              tuple(ToolSpec.from_description(t) for t in version.tools))
        return _Active(version.version, self._upload_hosts(row, version, path), plugin,
                       dict(row.config or {}))

    def _record_builtin_version(self, row: PluginRow, active: _Active) -> None:
        """Make the version row for a builtin match the code on disk."""
        path = discover(self.plugins_dir / BUILTINS)[row.name]
        manifest = active.plugin.manifest
        sha = content_sha256(path)
        tools = [spec.describe() for spec in active.plugin.tools]
        existing = next((v for v in row.versions if v.version == manifest.version), None)
        if existing is None:
            row.versions.append(PluginVersionRow(
                version=manifest.version, sha256=sha, manifest=manifest.to_dict(), tools=tools,
                path=f"{BUILTINS}/{path.name}", installed_by="bot (builtin)"))
        elif existing.sha256 != sha:  # shipped code changed without a version bump
            existing.sha256, existing.manifest, existing.tools = sha, manifest.to_dict(), tools
        row.active_version = manifest.version

    def _clash(self, name: str, tools: Iterable[ToolSpec]) -> tuple[str, str] | None:
        """The first (tool, other plugin) pair where another active plugin has the name."""
        for spec in tools:
            for other, active in self._active.items():
                if other != name and any(t.name == spec.name for t in active.plugin.tools):
                    return spec.name, other
        return None

    async def _try_activate(self, row: PluginRow) -> bool:
        try:
            active = await self._open(row)
        except PluginError as exc:
            log.error("could not load %s after a change made elsewhere: %s", row.name, exc)
            return False
        clash = self._clash(row.name, active.plugin.tools)
        if clash:
            await active.host.close()
            log.error("not loading %s: %s", row.name, messages.tool_clash(row.name, *clash))
            return False
        await self._swap(row.name, active)
        return True

    async def _swap(self, name: str, active: _Active | None, *, publish: bool = True) -> None:
        old = self._active.pop(name, None)
        if active is not None:
            self._active[name] = active
        if publish:
            self._publish()
        if old is not None:
            await old.host.close()

    def _publish(self) -> None:
        tools = [Tool.bind(spec, plugin=name, plugin_version=active.version,
                           invoke=active.host.invoke, default_timeout=self.tool_timeout,
                           config=active.config)
                 for name, active in sorted(self._active.items())
                 for spec in active.plugin.tools]
        self.registry.publish(tools)

    async def _mark_error(self, name: str, error: str, *, actor: str, action: str) -> None:
        async with self.db.write() as session:
            row = await PluginRepository(session).get(name)
            if row is not None:
                row.status, row.error = STATUS_ERROR, error
            AuditRepository(session).record(actor=actor, action=action, target=name,
                                            outcome="error", detail=error)

    async def _audit(self, actor: str, action: str, target: str, outcome: str,
                     detail: str | None = None) -> None:
        async with self.db.write() as session:
            AuditRepository(session).record(actor=actor, action=action, target=target,
                                            outcome=outcome, detail=detail)
