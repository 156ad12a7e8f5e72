"""PluginManager: keeps the database, the loaded plugins and the registry in step.

The database holds what *should* be (enabled, active version) and what became of it
(status, error). Admin operations are serialised by one lock and each ends in one
transaction plus one registry publish; readers use the registry snapshot or a read session
and never wait for the lock. The lock, the transition, the database and the active set are
the manager's alone: the rest of the plugin host changes a plugin through `change` (one
door, which takes the lock) and reads through `running`, `info` and `list`.
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
from bot.plugin_host.lifecycle.actions import Action
from bot.plugin_host.lifecycle.discovery import BUILTINS, discover
from bot.plugin_host.lifecycle.info import PluginInfo, plugin_info
from bot.plugin_host.lifecycle.load_state import NOWHERE, LoadStates, Placement
from bot.plugin_host.lifecycle.opener import PluginOpener, UploadHostFactory
from bot.plugin_host.lifecycle.plugin_store import PluginStore, new_sandbox_uid, require_plugin
from bot.plugin_host.lifecycle.row_changes import Changed, RowChange, switch_on_change
from bot.plugin_host.lifecycle.startup import Startup
from bot.plugin_host.lifecycle.versions import (
    check_new_version,
    config_digest,
    mcp_revision,
    new_plugin_row,
    record_description,
    removal_refused,
    rollback_target,
    stored_plugin,
)
from bot.plugin_host.mcp.connect import McpHosts
from bot.plugin_host.mcp.review import hold_for_review, proposal
from bot.plugin_host.policy.approval_rules import ApprovalRules
from bot.plugin_host.policy.scopes import Where, channels_of, narrow, rescopes
from bot.plugin_host.runtime.active import ActivePlugin, ActiveSet
from bot.plugin_host.runtime.in_process import PluginHost
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
ChangeListener = Callable[[Action, str], Awaitable[None]]  # (action, plugin name or "*")


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
                 archives: ArchiveStore | None = None, mcp_hosts: McpHosts | None = None,
                 store: PluginStore | None = None) -> None:
        self.registry = registry
        self.plugins_dir = plugins_dir
        self.default_enabled = frozenset(default_enabled)
        self.sandbox_uids = sandbox_uids
        self._db = db
        self._opener = PluginOpener(plugins_dir=plugins_dir, executor=executor,
                                    upload_hosts=upload_hosts,
                                    config_defaults=dict(config_defaults or {}),
                                    archives=archives, mcp_hosts=mcp_hosts,
                                    on_tools=self._tools_listed)
        self._loads = LoadStates(db)  # where each plugin is loaded, and why not
        self._sandbox_kind = sandbox_kind
        self._store = store or PluginStore(db)  # lock-free state
        self._audit = audit or AuditLog(db)
        self._files = files or UploadDir(plugins_dir)
        self._lock = asyncio.Lock()  # admin operations, one at a time
        self._active = ActiveSet(registry, tool_timeout=tool_timeout)
        self._startup = Startup(db, self._opener, self._loads, plugins_dir,
                                self.default_enabled)
        self._approvals = ApprovalRules(db, registry)  # admins' per-tool approval rules
        self._listeners: list[ChangeListener] = []

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Be told after every change of plugin state (to refresh App Home, notify admins)."""
        self._listeners.append(listener)

    # -- reads: never take the lock -------------------------------------------------------

    async def list(self) -> list[PluginInfo]:
        placement = await self._loads.placement()
        async with self._db.read() as session:
            return [self._info(row, placement) for row in await PluginRepository(session).all()]

    async def info(self, name: str) -> PluginInfo:
        placement = await self._loads.placement()
        async with self._db.read() as session:
            return self._info(await require_plugin(PluginRepository(session), name), placement)

    def watched(self, name: str) -> bool:
        """Whether health counts `name`'s faults: loaded now as an upload or an MCP server."""
        active = self._active.get(name)
        return active is not None and active.source in (PluginSource.UPLOAD, PluginSource.MCP)

    def running(self, name: str) -> ActivePlugin | None:
        """What runs for `name` here now (read it inside a `change` to act on it)."""
        return self._active.get(name)

    def without_clashes(self, name: str, plugin: LoadedPlugin) -> LoadedPlugin:
        """`plugin` less the tools another running plugin has."""
        return self._active.without_clashes(name, plugin)

    def operator_config(self, name: str) -> Mapping[str, Any]:
        """PLUGIN_CONFIG's entry for `name`: limits an admin's settings may only narrow."""
        return self._opener.operator_config(name)

    @property
    def approval_rules(self) -> Mapping[str, bool]:
        """Admins' per-tool approval rules in force (tool -> required)."""
        return self._approvals.current

    def builtin_names(self) -> set[str]:
        return set(discover(self.plugins_dir / BUILTINS))

    # -- admin operations: serialised ------------------------------------------------------

    async def start(self, *, actor: str = "system") -> None:
        """Sync builtins on disk with the database, load every enabled plugin, publish."""
        async with self._lock:
            await self._sync_all(actor=actor)
            await self._approvals.load()

    async def change(self, name: str, action: Action, row_change: RowChange, *, actor: str,
                     outcome: str = "ok", heard_as: Action | None = None) -> PluginInfo | None:
        """The one door for a change the rest of the plugin host makes to a plugin (its
        settings, an MCP server's address or tool list): under the lock, `row_change` and
        its audit entry in one transaction, the running code re-placed where the row now
        says, then the listeners told (`heard_as`, else `action`). None: `row_change` found
        nothing to change."""
        async with self._lock:
            info = await self._transition(name, action, None, row_change, actor=actor,
                                          outcome=outcome)
        if info is not None:
            await self._notify(heard_as or action, name)
        return info

    async def set_approval(self, tool: str, mode: str, *, actor: str) -> str:
        """An admin's approval rule for `tool` (required|auto|default); the sentence."""
        text = await self._approvals.set(tool, mode, actor=actor)
        await self._notify(Action.APPROVAL, tool)
        return text

    async def join(self, replica: str) -> None:
        """This process is the `bot run` replica `replica`: report where plugins load."""
        self._loads.replica = replica
        await self._publish_loads()

    async def leave(self) -> None:
        await self._loads.leave()

    async def reload_all(self, *, actor: str) -> builtins.list[PluginInfo]:
        """Re-read every plugin from disk and database, as at start-up."""
        async with self._lock:
            await self._sync_all(actor=actor)
            await self._audit.record(actor, Action.RELOAD, "*", "ok")
        await self._notify(Action.RELOAD, "*")
        return await self.list()

    async def enable(self, name: str, *, actor: str, where: Where | None = None) -> Outcome:
        """Switch a plugin on (`where`: in those channels, or everywhere; scopes.py)."""
        async with self._lock:
            async with self._db.read() as session:
                row = await require_plugin(PluginRepository(session), name)
            running = self._active.get(name) if row.enabled else None
            if running is not None and (where is None or not rescopes(row, where)):
                return Outcome(messages.scope_already(name, row.channels), self._info(row),
                               changed=False)
            try:
                active = None if running else await self._opener.open(row)
            except PluginError as exc:
                await self._enable_failed(row, exc, actor=actor)
                raise
            switch_on = switch_on_change(name, active, where)
            info = await self._move(name, Action.ENABLE, active, switch_on, actor=actor)
        await self._notify(Action.ENABLE, name)
        shown = "" if where is None and info.channels is None else where_label(info.channels)
        return Outcome(messages.enabled(name, info.version, info.tool_names, shown), info, True)

    async def disable(self, name: str, *, actor: str, reason: str | None = None,
                      event: Action = Action.DISABLE, where: Where | None = None) -> Outcome:
        """Switch a plugin off (`where`: out of those channels); with a `reason` it shows as
        `error` saying why. Listeners hear `event` (`auto-disable` from health)."""
        async with self._lock:
            async with self._db.write() as session:
                row = await require_plugin(PluginRepository(session), name)
                was_on = row.enabled or self._active.get(name) is not None
                keep, detail = narrow(row, where) if where is not None else (False, reason)
                still_on = keep and row.enabled
                if not still_on:
                    row.enabled = False
                    row.status = STATUS_ERROR if reason else STATUS_DISABLED
                    row.error = reason
                if was_on or where is not None:
                    AuditRepository(session).record(actor=actor, action=Action.DISABLE, target=name,
                                                    outcome="ok", detail=detail)
                info = self._info(row)
            if still_on:
                self._active.place(name, row)
            else:
                await self._active.swap(name, None)
        if was_on:
            await self._notify(event, name)
        text = (messages.still_enabled(name, info.channels) if still_on else
                messages.disabled(name) if was_on else messages.already_disabled(name)
                if where is None else messages.scope_kept(name, info.channels))
        return Outcome(text, info, was_on or where is not None)

    async def remove(self, name: str, *, actor: str) -> Outcome:
        async with self._lock:
            async with self._db.write() as session:
                repo = PluginRepository(session)
                row = await require_plugin(repo, name)
                refusal = removal_refused(row)  # a builtin's, MCP_SERVERS' own
                AuditRepository(session).record(actor=actor, action=Action.REMOVE, target=name,
                                                outcome="refused" if refusal else "ok",
                                                detail=refusal)
                if refusal is None:
                    await repo.delete(name)
                    await ArchiveRepository(session).drop_unused()
            if refusal is not None:
                raise ConflictError(refusal)
            await self._active.swap(name, None)
            self._loads.loaded(name)
            self._files.remove_plugin(name)  # not in a directory another database owns
        await self._notify(Action.REMOVE, name)
        return Outcome(messages.removed(name), None, True)

    async def register_version(self, plugin: LoadedPlugin, *, sha256: str, path: str,
                               actor: str, archive: Archive | None = None) -> Outcome:
        """Record a validated upload, already in place on disk, as the active version.

        One transaction adds the version row and points the plugin at it; an enabled plugin
        switches to the new code at once.
        """
        name, version = plugin.manifest.name, plugin.manifest.version
        described_with = config_digest(self._opener.operator_config(name))  # the probe's
        previous: str | None = None
        async with self._lock:
            async with self._db.read() as session:
                row = await PluginRepository(session).get(name)
            if row is not None:
                check_new_version(row, version, sha256)
            candidate = None
            if row is not None and row.enabled:
                candidate = await self._opener.upload(name, version, path, plugin, row,
                                                      described_with=described_with)

            async def add_version(repo: PluginRepository) -> Changed:
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
                    archive_sha256=archive.sha256 if archive else None,
                    described_with=described_with))
                previous, row.active_version = row.active_version, version
                if row.enabled:
                    row.status, row.error = STATUS_ENABLED, None
                return Changed(row, f"{version} sha256:{sha256[:12]}"
                               + (f" (was {previous})" if previous else ""))

            info = await self._move(name, Action.INSTALL, candidate, add_version, actor=actor)
        await self._notify(Action.INSTALL, name)
        return Outcome(messages.installed(name, version, previous, info.enabled), info, True)

    async def rollback(self, name: str, version: str | None = None, *, actor: str) -> Outcome:
        """Make an earlier installed version active (the one before the current by default)."""
        async with self._lock:
            async with self._db.read() as session:
                row = await require_plugin(PluginRepository(session), name)
            target = rollback_target(row, version)
            previous = row.active_version
            if target.version == previous:
                return Outcome(messages.already_at(name, target.version), self._info(row),
                               False)
            candidate = None
            if row.enabled:
                candidate = await self._opener.upload(name, target.version, target.path,
                                                      stored_plugin(target), row,
                                                      described_with=target.described_with)

            async def point_back(repo: PluginRepository) -> Changed:
                row = await require_plugin(repo, name)
                row.active_version = target.version
                return Changed(row, f"{previous} -> {target.version}")

            info = await self._move(name, Action.ROLLBACK, candidate, point_back, actor=actor)
        await self._notify(Action.ROLLBACK, name)
        return Outcome(messages.rolled_back(name, previous, target.version), info, True)

    async def refresh(self) -> bool:
        """Apply changes another process (the CLI, another replica) made in the database."""
        async with self._lock:
            async with self._db.read() as session:
                rows = {row.name: row for row in await PluginRepository(session).all()}
            changed = False
            for name in [n for n in self._active.names() if n not in rows]:
                await self._active.swap(name, None)
                changed = True
            for row in rows.values():
                want = row.enabled
                have = self._active.get(row.name)
                if have and (not want or have.version != row.active_version
                             or have.revision != mcp_revision(row)):
                    await self._active.swap(row.name, None)
                    changed, have = True, None
                changed |= have is not None and self._active.place(row.name, row)  # moved
                if want and have is None and self._loads.worth_trying(row.name,
                                                                     row.active_version):
                    changed |= await self._try_activate(row)
            await self._publish_loads([row.name for row in rows.values() if row.enabled])
            await self._approvals.load()
        if changed:
            await self._notify(Action.REFRESH, "*")
        return changed

    async def close(self) -> None:
        async with self._lock:
            await self._active.replace_all({})

    # -- internals -----------------------------------------------------------------------

    async def _transition(self, name: str, action: Action, candidate: ActivePlugin | None,
                          change: RowChange, *, actor: str,
                          outcome: str = "ok") -> PluginInfo | None:
        """The one way a plugin moves to new state (holding the lock): refuse a tool clash,
        apply `change` and its audit entry in one transaction, then swap in the code (or
        re-place the running one) where the row now says. The caller tells the listeners."""
        if candidate is not None:
            await self._refuse_clash(name, candidate, actor=actor, action=action)
        try:
            async with self._db.write() as session:
                changed = await change(PluginRepository(session))
                if changed is None:
                    if candidate is not None:
                        await candidate.host.close()
                    return None
                row = changed.row
                if candidate is not None:
                    record_description(row, candidate)
                self._refuse_over_limit(name, candidate, row)
                AuditRepository(session).record(actor=actor, action=action, target=name,
                                                outcome=outcome, detail=changed.detail)
                info = self._info(row)
        except BaseException as exc:
            if candidate is not None:
                await candidate.host.close()
            if isinstance(exc, _OverLimit):
                await self._audit.refusal(actor, action, name, str(exc))
            raise
        if candidate is None:
            self._active.place(name, row)
            running = self._active.get(name)
            if changed.retool is not None and running is not None:
                self._active.retool(name, running.host, *changed.retool)
        else:
            candidate.place(row)
            await self._active.swap(name, candidate)
        return info

    async def _tools_listed(self, name: str, host: PluginHost, listed: LoadedPlugin) -> None:
        """An MCP server listed its tools (on a new connection, or after `list_changed`).
        The bot keeps offering what an admin reviewed (the active version); a different
        list — less any tool another plugin has, never dropping an approval — is held on
        the server's row for review, audited, and the admins are told once."""
        async def hold(repo: PluginRepository) -> Changed | None:
            active, row = self._active.get(name), await repo.get(name)
            if active is None or active.host is not host or row is None or row.mcp is None:
                return None
            proposed = proposal(self._active.without_clashes(name, listed), active.plugin)
            detail = hold_for_review(row.mcp, proposed, active.plugin)
            return Changed(row, detail) if detail else None

        info = await self.change(name, Action.MCP_CHANGE, hold, actor="mcp server",
                                 outcome="pending review", heard_as=Action.MCP_REVIEW)
        if info is not None and info.mcp is not None:
            log.warning("MCP plugin %s: its server lists other tools than were reviewed "
                        "(%s); held for an admin", name, info.mcp.pending)

    async def _move(self, name: str, action: Action, candidate: ActivePlugin | None,
                    change: RowChange, *, actor: str) -> PluginInfo:
        """`_transition` for the manager's own changes, which always change the row."""
        info = await self._transition(name, action, candidate, change, actor=actor)
        if info is None:
            raise RuntimeError(f"{action} of {name} changed nothing")
        return info

    async def _sync_all(self, *, actor: str) -> None:
        fresh, enabled = await self._startup.sync(actor=actor)
        await self._active.replace_all(fresh)
        await self._publish_loads(enabled)

    async def _publish_loads(self, enabled: builtins.list[str] | None = None) -> None:
        """Tell the other replicas what runs here (a replica only)."""
        await self._loads.publish(
            lambda name: getattr(self._active.get(name), "version", None), enabled)

    async def _enable_failed(self, row: PluginRow, error: PluginError, *, actor: str) -> None:
        """An enable whose code does not load here: refused and recorded as the plugin's
        error, unless it is on already (for the other replicas): then it is this
        process's problem, not a reason to switch it off everywhere."""
        if not row.enabled:
            await self._store.mark_error(row.name, str(error), actor=actor, action=Action.ENABLE)
            return
        self._loads.failed(row.name, str(error), row.active_version)
        await self._audit.record(actor, Action.ENABLE, row.name, "error", str(error))
        await self._publish_loads()

    def _info(self, row: PluginRow, placement: Placement = NOWHERE) -> PluginInfo:
        """The row as shown, with where its code runs here (the sandbox probed for uploads)."""
        sandboxed = row.source == PluginSource.UPLOAD or (row.mcp is not None
                                                          and row.mcp.transport == "stdio")
        kind = self._sandbox_kind() if sandboxed and self._sandbox_kind else None
        return plugin_info(row, kind, loads=placement.of(row.name),
                           replicas=placement.replicas,
                           problem=self._loads.local_problem(row.name),
                           rules=self._approvals.current)

    def _refuse_over_limit(self, name: str, candidate: ActivePlugin | None,
                           row: PluginRow) -> None:
        """Refuse (rolling `row`'s change back) a change that would offer a channel more
        tools than one model request may carry: every question there would fail."""
        running = candidate or self._active.get(name)
        if not row.enabled or running is None:
            return
        text = self._active.over_limit(name, len(running.plugin.tools), channels_of(row))
        if text is not None:
            raise _OverLimit(text)

    async def _refuse_clash(self, name: str, active: ActivePlugin, *, actor: str,
                            action: Action) -> None:
        text = await self._active.refuse_clash(name, active)
        if text:
            await self._audit.refusal(actor, action, name, text)
            raise ConflictError(text)

    async def _try_activate(self, row: PluginRow) -> bool:
        try:
            active = await self._opener.open(row, lazy=True)
            text = await self._active.refuse_clash(row.name, active)
        except PluginError as exc:
            text = str(exc)
        if text:
            if self._loads.failed(row.name, text, row.active_version):  # logged once
                log.error("not loading %s after a change made elsewhere: %s", row.name, text)
            return False
        await self._active.swap(row.name, active)
        self._loads.loaded(row.name)
        return True

    async def _notify(self, action: Action, name: str) -> None:
        """Say where plugins load now (a replica), then tell the change listeners."""
        await self._publish_loads()
        await tell_all(self._listeners, action, name, what="plugin change listener")
