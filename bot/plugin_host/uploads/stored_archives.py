"""Uploads kept in the database, so that every replica can run every installed version.

The install stores the validated upload's bytes by their sha256 in the transaction that
records its version. A replica that lacks a version's files unpacks them from there into
its own `user_uploads/<name>/<sha256>/`, the same path the installing replica used, after
checking that the bytes still hash to the name they are stored under, and with the same
archive checks and limits as an upload. Versions installed before archives were stored
are backfilled by the first process that has their files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot import messages
from bot.errors import BotError, PluginError
from bot.plugin_host.uploads.archive_checks import ArchiveError, Limits, extract_upload
from bot.plugin_host.uploads.packaging import pack_directory
from bot.plugin_host.uploads.upload_dir import UploadDir
from bot.store import Database, Session
from bot.store.models import PluginArchiveRow, PluginVersionRow
from bot.store.repositories import ArchiveRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Archive:
    sha256: str
    filename: str  # `<name>.zip` or `<name>.py`: how it is unpacked
    data: bytes


def archive_kind(entry_name: str) -> str:
    """The stored file name for an installed entry (a package dir, or `<name>.py`)."""
    return entry_name if entry_name.endswith(".py") else f"{entry_name}.zip"


async def keep_archive(session: Session, archive: Archive) -> None:
    """Store an archive in the install's transaction (once: it is named by its content)."""
    await ArchiveRepository(session).keep(archive.sha256, archive.filename, archive.data)


class ArchiveStore:
    def __init__(self, db: Database, files: UploadDir, limits: Limits) -> None:
        self.db = db
        self.files = files
        self.plugins_dir = files.root.parent
        self.limits = limits
        self._lock = asyncio.Lock()

    async def unpack(self, name: str, version: PluginVersionRow) -> None:
        """Make `version`'s files exist here; PluginError saying why they cannot."""
        target = self.plugins_dir / version.path
        if target.exists():
            return
        parts = PurePosixPath(version.path).parts
        if len(parts) != 4 or parts[:2] != (self.files.root.name, name):
            raise PluginError(name, [messages.files_missing(version.path)])
        if version.archive_sha256 is None:
            raise PluginError(name, [messages.files_missing(version.path)
                                     + messages.no_stored_archive()])
        if self.files.theirs and self.files.owner is not None:
            raise PluginError(name, [messages.uploads_owned_elsewhere(
                self.files.root, self.files.owner.database)])
        async with self.db.read() as session:
            row = await ArchiveRepository(session).get(version.archive_sha256)
        if row is None:
            raise PluginError(name, [messages.files_missing(version.path)
                                     + messages.no_stored_archive()])
        if hashlib.sha256(row.data).hexdigest() != row.sha256:
            raise PluginError(name, [messages.archive_corrupt(row.sha256)])
        async with self._lock:
            await asyncio.to_thread(self._place, name, row, target)
        if not target.exists():  # the archive unpacked to another layout than recorded
            raise PluginError(name, [messages.files_missing(version.path)])

    def _place(self, name: str, row: PluginArchiveRow, target: Path) -> None:
        self.files.claim()
        with self.files.staging_area() as staging:
            try:
                layout = extract_upload(row.data, row.filename, staging, self.limits)
            except ArchiveError as exc:
                raise PluginError(name, [str(p) for p in exc.problems]) from None
            if self.files.place(layout.entry, target):
                log.info("unpacked %s from the database into %s", name, target.parent)

    async def backfill(self) -> int:
        """Store the archives of versions installed before archives were kept, from the
        files here (only in an uploads dir this database owns); how many were stored."""
        if not self.files.ours:
            return 0
        async with self.db.read() as session:
            versions = await ArchiveRepository(session).versions_without_archive(
                self.files.root.name)
        stored = 0
        for version in versions:
            archive = await asyncio.to_thread(self._pack, self.plugins_dir / version.path)
            if archive is None:
                continue
            async with self.db.write() as session:
                await keep_archive(session, archive)
                await ArchiveRepository(session).attach(version.id, archive.sha256)
            stored += 1
        if stored:
            log.info("stored %d installed version(s) in the database for the other replicas",
                     stored)
        return stored

    def _pack(self, entry: Path) -> Archive | None:
        if not entry.exists():  # another replica's install: it stores its own
            return None
        try:
            data = entry.read_bytes() if entry.suffix == ".py" else pack_directory(entry)
        except (OSError, BotError) as exc:
            log.warning("cannot store %s in the database: %s", entry, exc)
            return None
        return Archive(hashlib.sha256(data).hexdigest(),
                       archive_kind(PurePosixPath(entry.name).name), data)
