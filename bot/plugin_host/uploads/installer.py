"""The install pipeline for uploaded plugins.

archive checks -> extract into a staging dir -> probe in a sandboxed worker (import,
get_manifest, get_tools, full validation) -> move into user_uploads/<name>/<sha256>/ ->
one database transaction (PluginManager.register_version) -> hot-load if enabled.

A failure at any step leaves what was installed before untouched; a crash leaves at most a
staging dir or an unreferenced content-addressed dir, both swept at the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot import messages
from bot.errors import BotError, ConflictError, DatabaseFault, PluginError, Problem
from bot.plugin_host.contract.protocol import LoadedPlugin
from bot.plugin_host.contract.validation import plugin_name_problem
from bot.plugin_host.lifecycle.discovery import UPLOADS
from bot.plugin_host.lifecycle.manager import PluginManager
from bot.plugin_host.lifecycle.plugin_store import PluginStore
from bot.plugin_host.uploads.archive_checks import ArchiveError, Layout, Limits, extract_upload
from bot.plugin_host.uploads.packaging import pack_directory
from bot.plugin_host.uploads.stored_archives import Archive, archive_kind
from bot.plugin_host.uploads.upload_dir import Owner, UploadDir
from bot.store.audit import AuditLog

log = logging.getLogger(__name__)

Prober = Callable[[str | None, Path], Awaitable[LoadedPlugin]]


@dataclass(frozen=True)
class InstallResult:
    """What an install (or a check) found: everything a surface needs to render."""

    ok: bool
    message: str
    filename: str
    sha256: str
    name: str | None = None
    version: str | None = None
    tools: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    sandbox: str = ""  # where the probe ran it, and where it will run


class UploadChecks:
    """Every check an upload goes through — read and capped, unpacked into a staging area
    (removed afterwards), its names checked, probed in the sandbox, compared with the
    versions installed — and nothing else: `bot plugin check` and an install share them.
    Without a database (`versions` None) the comparison is left out, and said to be."""

    def __init__(self, *, files: UploadDir, limits: Limits, prober: Prober,
                 builtin_names: Callable[[], set[str]], versions: PluginStore | None,
                 sandbox_kind: Callable[[], str | None] = lambda: None,
                 no_versions_reason: str = "") -> None:
        self.files, self.limits, self.probe = files, limits, prober
        self.builtin_names, self.versions = builtin_names, versions
        self.sandbox_kind = sandbox_kind
        self.no_versions_reason = no_versions_reason

    async def check(self, source: bytes | Path, filename: str | None = None) -> InstallResult:
        try:
            data, archive_name, filename = _read_source(source, filename, self.limits)
        except ArchiveError as exc:
            return _refused(filename or str(source), "", None, exc.problems)
        sha = hashlib.sha256(data).hexdigest()
        with self.files.staging_area() as staging:
            try:
                plugin, _, installed = await self.inspect(data, archive_name, staging, sha,
                                                          checking=True)
            except (ArchiveError, PluginError, ConflictError, DatabaseFault) as exc:
                return _refused(filename, sha, *_refusal(exc))
        name, version = plugin.manifest.name, plugin.manifest.version
        message = messages.check_passed(name, version)
        if installed:
            message += " " + messages.check_already_installed(name, version)
        elif self.versions is None:
            message += " " + messages.check_not_compared(self.no_versions_reason)
        return _result(plugin, filename, sha, True, message, self.sandbox_kind())

    async def inspect(self, data: bytes, archive_name: str, staging: Path, sha: str, *,
                      checking: bool = False) -> tuple[LoadedPlugin, Layout, bool]:
        """The plugin the upload holds, unpacked in `staging`, and whether exactly it is
        installed already (only asked when `checking`); an ArchiveError, PluginError,
        ConflictError or DatabaseFault says why it may not be installed."""
        layout = extract_upload(data, archive_name, staging, self.limits)
        self._check_name(layout.name)
        plugin = await self.probe(layout.name, layout.entry)
        self._check_name(plugin.manifest.name)
        installed = False
        if self.versions is not None:
            installed = await self.versions.check_upload(
                plugin.manifest.name, plugin.manifest.version, sha,
                installed_is_fine=checking)
        return plugin, layout, installed

    def _check_name(self, name: str | None) -> None:
        problem = name and plugin_name_problem(name, self.builtin_names())
        if problem:
            raise ArchiveError([Problem("name", problem)])


class Installer:
    def __init__(self, *, manager: PluginManager, store: PluginStore, audit: AuditLog,
                 plugins_dir: Path, limits: Limits, prober: Prober,
                 sandbox_kind: Callable[[], str | None] = lambda: None,
                 files: UploadDir | None = None) -> None:
        self.sandbox_kind = sandbox_kind
        self.manager = manager
        self.store = store
        self.audit = audit
        self.files = files or UploadDir(plugins_dir)
        self.uploads = self.files.root
        self.plugins_dir = plugins_dir
        self.limits = limits
        self.checks = UploadChecks(files=self.files, limits=limits, prober=prober,
                                   builtin_names=manager.builtin_names, versions=store,
                                   sandbox_kind=sandbox_kind)
        self._lock = asyncio.Lock()

    @property
    def max_upload_bytes(self) -> int:
        return self.limits.max_upload_bytes

    async def check(self, source: bytes | Path, filename: str | None = None) -> InstallResult:
        """Every install check, without installing anything."""
        return await self.checks.check(source, filename)

    async def install(self, source: bytes | Path, filename: str | None = None, *, actor: str
                      ) -> InstallResult:
        """Install an upload: every check, then one atomic commit, then hot-load."""
        try:
            data, archive_name, filename = _read_source(source, filename, self.limits)
        except ArchiveError as exc:
            return await self._refused(filename or str(source), "", None, exc.problems, actor)
        sha = hashlib.sha256(data).hexdigest()
        with self.files.staging_area() as staging:
            try:
                self._require_ownership()
                plugin, layout, _ = await self.checks.inspect(data, archive_name, staging, sha)
            except (ArchiveError, PluginError, ConflictError, DatabaseFault) as exc:
                name, problems = _refusal(exc)
                return await self._refused(filename, sha, name, problems, actor)
            return await self._commit(plugin, layout, filename, Archive(
                sha, archive_kind(_entry_name(plugin, layout)), data), actor)

    async def refuse(self, filename: str, reason: str, *, actor: str) -> InstallResult:
        """Refuse an upload before it reached the pipeline (download failed, too large)."""
        return await self._refused(filename, "", None, [Problem("upload", reason)], actor)

    async def open_uploads(self, me: Owner) -> str | None:
        """Look who owns the uploads directory; the sentence saying whose it is when it
        belongs to another database (then nothing is installed or deleted there)."""
        return self.files.open(me, has_versions=await self.store.has_uploads())

    def sweep(self) -> list[Path]:
        """Remove what interrupted installs left in the staging area (nothing else)."""
        return self.files.sweep_staging()

    async def unreferenced(self) -> list[Path]:
        """Version directories no row of this database points at: `bot plugin gc`. None
        in a directory this database does not own (another's, or nobody's yet)."""
        self._require_ownership()
        if not self.files.ours and self.files.me is not None:
            return []
        return self.files.unreferenced(await self.store.upload_paths())

    async def collect(self, paths: list[Path], *, actor: str) -> None:
        """Delete what `unreferenced` listed (and still is), and audit it."""
        self._require_ownership()
        still = set(await self.unreferenced())
        doomed = [path for path in paths if path in still]
        self.files.delete(doomed)
        await self.audit.record(actor, "gc", "*", "ok", f"deleted {len(doomed)} directories")

    def _require_ownership(self) -> None:
        if self.files.theirs and self.files.owner is not None:
            raise ConflictError(messages.uploads_owned_elsewhere(self.files.root,
                                                                 self.files.owner.database))

    async def _commit(self, plugin: LoadedPlugin, layout: Layout, filename: str,
                      archive: Archive, actor: str) -> InstallResult:
        sha, name = archive.sha256, plugin.manifest.name
        entry_name = _entry_name(plugin, layout)
        final = self.uploads / name / sha
        async with self._lock:
            self.files.claim()  # the first install makes this database the owner
            try:
                self._require_ownership()  # unless another database claimed it first
            except ConflictError as exc:
                return await self._refused(filename, sha, name, _refusal(exc)[1], actor)
            created = self.files.place(layout.entry, final / entry_name)
            log.info("moved %s %s into %s; recording it", name, plugin.manifest.version,
                     final)  # a crash from here to the commit leaves an orphan, swept later
            try:
                outcome = await self.manager.register_version(
                    plugin, sha256=sha, path=f"{UPLOADS}/{name}/{sha}/{entry_name}",
                    actor=actor, archive=archive)
            except (ConflictError, DatabaseFault) as exc:  # nothing recorded: nothing kept
                if created:
                    shutil.rmtree(final, ignore_errors=True)
                return await self._refused(filename, sha, name, [Problem("", str(exc))],
                                           actor, audited=True)
        return _result(plugin, filename, sha, True, outcome.message, self.sandbox_kind())

    async def _refused(self, filename: str, sha: str, name: str | None,
                       problems: list[Problem], actor: str, *,
                       audited: bool = False) -> InstallResult:
        result = _refused(filename, sha, name, problems)
        if not audited:
            await self.audit.refusal(actor, "install", name or filename[:128],
                                     "; ".join(str(p) for p in problems)[:2000],
                                     best_effort=True)
        return result


def _refusal(exc: ArchiveError | PluginError | ConflictError | DatabaseFault
             ) -> tuple[str | None, list[Problem]]:
    """The plugin's name (when known) and the problems, from what `inspect` raised."""
    if isinstance(exc, ArchiveError):
        return None, exc.problems
    if isinstance(exc, PluginError):
        return exc.name, list(exc.problems)
    return None, [Problem("", str(exc))]


def _refused(filename: str, sha: str, name: str | None,
             problems: list[Problem]) -> InstallResult:
    return InstallResult(ok=False, message=messages.install_refused(filename, problems),
                         filename=filename, sha256=sha, name=name, problems=tuple(problems))


def _entry_name(plugin: LoadedPlugin, layout: Layout) -> str:
    """What the plugin is called in its version directory: its package, or its module."""
    name = plugin.manifest.name
    return name if layout.entry.is_dir() else f"{name}.py"


def _read_source(source: bytes | Path, filename: str | None,
                 limits: Limits) -> tuple[bytes, str, str]:
    """The upload's bytes, the name that says what they are (.zip or .py), and the name
    to show (a package directory is shown as itself, not as the zip it was packed into)."""
    if isinstance(source, bytes):
        return source, filename or "upload.zip", filename or "upload.zip"
    if source.is_dir():
        try:
            return pack_directory(source), f"{source.name}.zip", f"{source}/"
        except BotError as exc:
            raise ArchiveError([Problem("", str(exc))]) from None
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise ArchiveError([Problem("", messages.cannot_read(exc))]) from None
    if size > limits.max_upload_bytes:
        raise ArchiveError([Problem("upload", messages.upload_too_large(
            size, limits.max_upload_bytes))])
    return source.read_bytes(), filename or source.name, filename or str(source)


def _result(plugin: LoadedPlugin, filename: str, sha: str, ok: bool,
            message: str, sandbox_kind: str | None) -> InstallResult:
    return InstallResult(ok=ok, message=message, filename=filename, sha256=sha,
                         name=plugin.manifest.name, version=plugin.manifest.version,
                         tools=tuple(t.name for t in plugin.tools),
                         permissions=plugin.manifest.permissions,
                         warnings=plugin.warnings,
                         sandbox=messages.sandbox_label("upload", sandbox_kind))
