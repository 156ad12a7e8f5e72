"""PluginManager: keeps the database, the loaded plugins and the registry in step.

The database holds what *should* be (enabled, active version) and what became of it
(status, error). Admin operations are serialised by one lock and each ends in one
transaction plus one registry publish; readers use the registry snapshot or a read session
and never wait for the lock.
"""

from __future__ import annotations

import asyncio
import builtins  # `list` is a method here: annotations inside the class say builtins.list
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import messages
from bot.errors import ConflictError, PluginError
from bot.messages import where_label
from bot.plugin_host.contract.protocol import (
    STATUS_DISABLED,
    STATUS_ENABLED,
    STATUS_ERROR,
    LoadedPlugin,
    PluginSource,
)
from bot.plugin_host.lifecycle.discovery import BUILTINS, discover
from bot.plugin_host.lifecycle.info import PluginInfo, plugin_info
from bot.plugin_host.lifecycle.load_state import NOWHERE, LoadStates, Placement
from bot.plugin_host.lifecycle.opener import PluginOpener, UploadHostFactory
from bot.plugin_host.lifecycle.plugin_store import PluginStore, new_sandbox_uid, require_plugin
from bot.plugin_host.lifecycle.row_changes import RowChange, switch_on_change
from bot.plugin_host.lifecycle.startup import Startup
from bot.plugin_host.lifecycle.versions import (
    check_new_version,
    mcp_revision,
    new_plugin_row,
    removal_refused,
    rollback_target,
    stored_plugin,
)
from bot.plugin_host.mcp.connect import McpHosts
from bot.plugin_host.policy.approval_rules import ApprovalRules
from bot.plugin_host.policy.scopes import Where, channels_of, narrow, rescopes
from bot.plugin_host.runtime.active import ActivePlugin, ActiveSet
from bot.plugin_host.runtime.registry import Registry, tell_all
from bot.plugin_host.sandbox.confine import DEFAULT_UID_RANGE, plugin_uids
from bot.plugin_host.uploads.stored_archives import (
    Archive,
    ArchiveStore,
    keep_archive,
)
from bot.plugin_host.uploads.upload_dir import UploadDir
from bot.store import Database
from bot.store.audit import AuditLog
from bot.store.models import PluginRow, PluginVersionRow
from bot.store.repositories import ArchiveRepository, AuditRepository, PluginRepository

log = logging.getLogger(__name__)

DEFAULT_ENABLED_BUILTINS = frozenset({"kubectl", "k8sgpt"})
ChangeListener = Callable[[str, str], Awaitable[None]]  # (action, plugin name)


class _OverLimit(ConflictError):
    """A change refused for offering too many tools (audited as a refusal)."""


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
                 upload_hosts: UploadHostFactory | None = None,
                 config_defaults: Mapping[str, Mapping[str, Any]] | None = None,
                 sandbox_uids: range = plugin_uids(DEFAULT_UID_RANGE),
                 sandbox_kind: Callable[[], str | None] | None = None,
                 audit: AuditLog | None = None, files: UploadDir | None = None,
                 archives: ArchiveStore | None = None,
                 mcp_hosts: McpHosts | None = None) -> None:
        self.db = db
        self.registry = registry
        self.plugins_dir = plugins_dir
        self.default_enabled = frozenset(default_enabled)
        self.opener = PluginOpener(plugins_dir=plugins_dir, executor=executor,
                                    upload_hosts=upload_hosts,
                                    config_defaults=dict(config_defaults or {}),
                                    archives=archives, mcp_hosts=mcp_hosts)
        self.loads = LoadStates(db)  # where each plugin is loaded, and why not
        self.sandbox_uids = sandbox_uids
        self._sandbox_kind = sandbox_kind
        self.store = PluginStore(db)  # lock-free state
        self.audit = audit or AuditLog(db)
        self.files = files or UploadDir(plugins_dir)
        self.lock = asyncio.Lock()  # admin operations, one at a time
        self.active = ActiveSet(registry, tool_timeout=tool_timeout)
        self._startup = Startup(db, self.opener, self.loads, plugins_dir,
                                self.default_enabled)
        self.approvals = ApprovalRules(db, registry)  # admins' per-tool approval rules
        self._listeners: list[ChangeListener] = []

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Be told after every change of plugin state (to refresh App Home, notify admins)."""
        self._listeners.append(listener)

    # -- reads: never take the lock -------------------------------------------------------

    async def list(self) -> list[PluginInfo]:
        placement = await self.loads.placement()
        async with self.db.read() as session:
            return [self._info(row, placement) for row in await PluginRepository(session).all()]

    async def info(self, name: str) -> PluginInfo:
        placement = await self.loads.placement()
        async with self.db.read() as session:
            return self._info(await require_plugin(PluginRepository(session), name), placement)

    def watched(self, name: str) -> bool:
        """Whether health counts `name`'s faults: loaded now as an upload or an MCP server."""
        active = self.active.get(name)
        return active is not None and active.source in (PluginSource.UPLOAD, PluginSource.MCP)

    def builtin_names(self) -> set[str]:
        return set(discover(self.plugins_dir / BUILTINS))

    # -- admin operations: serialised ------------------------------------------------------

    async def start(self, *, actor: str = "system") -> None:
        """Sync builtins on disk with the database, load every enabled plugin, publish."""
        async with self.lock:
            await self._sync_all(actor=actor)
            await self.approvals.load()

    async def join(self, replica: str) -> None:
        """This process is the `bot run` replica `replica`: report where plugins load."""
        self.loads.replica = replica
        await self._publish_loads()

    async def leave(self) -> None:
        await self.loads.leave()

    async def reload_all(self, *, actor: str) -> builtins.list[PluginInfo]:
        """Re-read every plugin from disk and database, as at start-up."""
        async with self.lock:
            await self._sync_all(actor=actor)
            await self.audit.record(actor, "reload", "*", "ok")
        await self.notify("reload", "*")
        return await self.list()

    async def enable(self, name: str, *, actor: str, where: Where | None = None) -> Outcome:
        """Switch a plugin on (`where`: in those channels, or everywhere; scopes.py)."""
        async with self.lock:
            async with self.db.read() as session:
                row = await require_plugin(PluginRepository(session), name)
            running = self.active.get(name) if row.enabled else None
            if running is not None and (where is None or not rescopes(row, where)):
                return Outcome(messages.scope_already(name, row.channels), self._info(row),
                               changed=False)
            try:
                active = None if running else await self.opener.open(row)
            except PluginError as exc:
                await self._enable_failed(row, exc, actor=actor)
                raise
            switch_on = switch_on_change(name, active, where)
            info = await self.transition(name, "enable", active, switch_on, actor=actor)
        await self.notify("enable", name)
        shown = "" if where is None and info.channels is None else where_label(info.channels)
        return Outcome(messages.enabled(name, info.version, info.tool_names, shown), info, True)

    async def disable(self, name: str, *, actor: str, reason: str | None = None,
                      event: str = "disable", where: Where | None = None) -> Outcome:
        """Switch a plugin off (`where`: out of those channels); with a `reason` it shows as
        `error` saying why. Listeners hear `event` (`auto-disable` from health)."""
        async with self.lock:
            async with self.db.write() as session:
                row = await require_plugin(PluginRepository(session), name)
                was_on = row.enabled or self.active.get(name) is not None
                keep, detail = narrow(row, where) if where is not None else (False, reason)
                still_on = keep and row.enabled
                if not still_on:
                    row.enabled = False
                    row.status = STATUS_ERROR if reason else STATUS_DISABLED
                    row.error = reason
                if was_on or where is not None:
                    AuditRepository(session).record(actor=actor, action="disable", target=name,
                                                    outcome="ok", detail=detail)
                info = self._info(row)
            if still_on:
                self.active.place(name, row)
            else:
                await self.active.swap(name, None)
        if was_on:
            await self.notify(event, name)
        text = (messages.still_enabled(name, info.channels) if still_on else
                messages.disabled(name) if was_on else messages.already_disabled(name)
                if where is None else messages.scope_kept(name, info.channels))
        return Outcome(text, info, was_on or where is not None)

    async def remove(self, name: str, *, actor: str) -> Outcome:
        async with self.lock:
            async with self.db.write() as session:
                repo = PluginRepository(session)
                row = await require_plugin(repo, name)
                refusal = removal_refused(row)  # a builtin's, MCP_SERVERS' own
                AuditRepository(session).record(actor=actor, action="remove", target=name,
                                                outcome="refused" if refusal else "ok",
                                                detail=refusal)
                if refusal is None:
                    await repo.delete(name)
                    await ArchiveRepository(session).drop_unused()
            if refusal is not None:
                raise ConflictError(refusal)
            await self.active.swap(name, None)
            self.loads.loaded(name)
            self.files.remove_plugin(name)  # not in a directory another database owns
        await self.notify("remove", name)
        return Outcome(messages.removed(name), None, True)

    async def register_version(self, plugin: LoadedPlugin, *, sha256: str, path: str,
                               actor: str, archive: Archive | None = None) -> Outcome:
        """Record a validated upload, already in place on disk, as the active version.

        One transaction adds the version row and points the plugin at it; an enabled plugin
        switches to the new code at once.
        """
        name, version = plugin.manifest.name, plugin.manifest.version
        previous: str | None = None
        async with self.lock:
            async with self.db.read() as session:
                row = await PluginRepository(session).get(name)
            if row is not None:
                check_new_version(row, version, sha256)
            candidate = None
            if row is not None and row.enabled:
                candidate = await self.opener.upload(name, version, path, plugin, row)

            async def add_version(repo: PluginRepository) -> tuple[PluginRow, str | None]:
                nonlocal previous
                row = await repo.get(name)
                if row is None:
                    row = new_plugin_row(name, PluginSource.UPLOAD, enabled=False)
                    repo.add(row)
                if row.sandbox_uid is None:
                    row.sandbox_uid = await new_sandbox_uid(repo, name, self.sandbox_uids)
                check_new_version(row, version, sha256)
                if archive is not None:
                    await keep_archive(repo.session, archive)
                row.versions.append(PluginVersionRow(
                    version=version, sha256=sha256, manifest=plugin.manifest.to_dict(),
                    tools=[t.describe() for t in plugin.tools], path=path, installed_by=actor,
                    archive_sha256=archive.sha256 if archive else None))
                previous, row.active_version = row.active_version, version
                if row.enabled:
                    row.status, row.error = STATUS_ENABLED, None
                return row, (f"{version} sha256:{sha256[:12]}"
                             + (f" (was {previous})" if previous else ""))

            info = await self.transition(name, "install", candidate, add_version, actor=actor)
        await self.notify("install", name)
        return Outcome(messages.installed(name, version, previous, info.enabled), info, True)

    async def rollback(self, name: str, version: str | None = None, *, actor: str) -> Outcome:
        """Make an earlier installed version active (the one before the current by default)."""
        async with self.lock:
            async with self.db.read() as session:
                row = await require_plugin(PluginRepository(session), name)
            target = rollback_target(row, version)
            previous = row.active_version
            if target.version == previous:
                return Outcome(messages.already_at(name, target.version), self._info(row),
                               False)
            candidate = None
            if row.enabled:
                candidate = await self.opener.upload(name, target.version, target.path,
                                                      stored_plugin(target), row)

            async def point_back(repo: PluginRepository) -> tuple[PluginRow, str | None]:
                row = await require_plugin(repo, name)
                row.active_version = target.version
                return row, f"{previous} -> {target.version}"

            info = await self.transition(name, "rollback", candidate, point_back, actor=actor)
        await self.notify("rollback", name)
        return Outcome(messages.rolled_back(name, previous, target.version), info, True)

    async def refresh(self) -> bool:
        """Apply changes another process (the CLI, another replica) made in the database."""
        async with self.lock:
            async with self.db.read() as session:
                rows = {row.name: row for row in await PluginRepository(session).all()}
            changed = False
            for name in [n for n in self.active.names() if n not in rows]:
                await self.active.swap(name, None)
                changed = True
            for row in rows.values():
                want = row.enabled
                have = self.active.get(row.name)
                if have and (not want or have.version != row.active_version
                             or have.revision != mcp_revision(row)):
                    await self.active.swap(row.name, None)
                    changed, have = True, None
                changed |= have is not None and self.active.place(row.name, row)  # moved
                if want and have is None and self.loads.worth_trying(row.name,
                                                                     row.active_version):
                    changed |= await self._try_activate(row)
            await self._publish_loads([row.name for row in rows.values() if row.enabled])
            await self.approvals.load()
        if changed:
            await self.notify("refresh", "*")
        return changed

    async def close(self) -> None:
        async with self.lock:
            await self.active.replace_all({})

    # -- internals -----------------------------------------------------------------------

    async def transition(self, name: str, action: str, candidate: ActivePlugin | None,
                          change: RowChange, *, actor: str) -> PluginInfo:
        """The one way a plugin moves to new state (holding the lock): refuse a tool clash,
        apply `change` and its audit entry in one transaction, then swap in the code (or
        re-place the running one) where the row now says. The caller tells the listeners."""
        if candidate is not None:
            await self._refuse_clash(name, candidate, actor=actor, action=action)
        try:
            async with self.db.write() as session:
                row, detail = await change(PluginRepository(session))
                self._refuse_over_limit(name, candidate, row)
                AuditRepository(session).record(actor=actor, action=action, target=name,
                                                outcome="ok", detail=detail)
                info = self._info(row)
        except BaseException as exc:
            if candidate is not None:
                await candidate.host.close()
            if isinstance(exc, _OverLimit):
                await self.audit.refusal(actor, action, name, str(exc))
            raise
        if candidate is None:
            self.active.place(name, row)
        else:
            candidate.place(row)
            await self.active.swap(name, candidate)
        return info

    async def _sync_all(self, *, actor: str) -> None:
        fresh, enabled = await self._startup.sync(actor=actor)
        await self.active.replace_all(fresh)
        await self._publish_loads(enabled)

    async def _publish_loads(self, enabled: builtins.list[str] | None = None) -> None:
        """Tell the other replicas what runs here (a replica only)."""
        await self.loads.publish(
            lambda name: getattr(self.active.get(name), "version", None), enabled)

    async def _enable_failed(self, row: PluginRow, error: PluginError, *, actor: str) -> None:
        """An enable whose code does not load here: refused and recorded as the plugin's
        error, unless it is on already (for the other replicas): then it is this
        process's problem, not a reason to switch it off everywhere."""
        if not row.enabled:
            await self.store.mark_error(row.name, str(error), actor=actor, action="enable")
            return
        self.loads.failed(row.name, str(error), row.active_version)
        await self.audit.record(actor, "enable", row.name, "error", str(error))
        await self._publish_loads()

    def _info(self, row: PluginRow, placement: Placement = NOWHERE) -> PluginInfo:
        """The row as shown, with where its code runs here (the sandbox probed for uploads)."""
        sandboxed = row.source == PluginSource.UPLOAD or (row.mcp is not None
                                                          and row.mcp.transport == "stdio")
        kind = self._sandbox_kind() if sandboxed and self._sandbox_kind else None
        return plugin_info(row, kind, loads=placement.of(row.name),
                           replicas=placement.replicas,
                           problem=self.loads.local_problem(row.name),
                           rules=self.approvals.current)

    def _refuse_over_limit(self, name: str, candidate: ActivePlugin | None,
                           row: PluginRow) -> None:
        """Refuse (rolling `row`'s change back) a change that would offer a channel more
        tools than one model request may carry: every question there would fail."""
        running = candidate or self.active.get(name)
        if not row.enabled or running is None:
            return
        text = self.active.over_limit(name, len(running.plugin.tools), channels_of(row))
        if text is not None:
            raise _OverLimit(text)

    async def _refuse_clash(self, name: str, active: ActivePlugin, *, actor: str,
                            action: str) -> None:
        text = await self.active.refuse_clash(name, active)
        if text:
            await self.audit.refusal(actor, action, name, text)
            raise ConflictError(text)

    async def _try_activate(self, row: PluginRow) -> bool:
        try:
            active = await self.opener.open(row, lazy=True)
            text = await self.active.refuse_clash(row.name, active)
        except PluginError as exc:
            text = str(exc)
        if text:
            if self.loads.failed(row.name, text, row.active_version):  # logged once
                log.error("not loading %s after a change made elsewhere: %s", row.name, text)
            return False
        await self.active.swap(row.name, active)
        self.loads.loaded(row.name)
        return True

    async def notify(self, action: str, name: str) -> None:
        """Say where plugins load now (a replica), then tell the change listeners."""
        await self._publish_loads()
        await tell_all(self._listeners, action, name, what="plugin change listener")
