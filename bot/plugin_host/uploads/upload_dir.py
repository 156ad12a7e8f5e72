"""The uploads directory (`PLUGINS_DIR/user_uploads`): who owns it, its staging area, and
what in it no version row points at.

Several databases can meet one plugins dir (a second `DATABASE_URL` on one machine, a
command run from another directory). Only the database that owns the directory may delete
in it or install into it. A database becomes the owner with its first install there (its
id goes into `.owner.json`), or at start when it already has versions there and nobody
owns it (directories from before owners were recorded); a database with no uploads never
claims one, so that merely opening a plugins dir changes nothing in it. Start-up sweeps
only abandoned staging directories (their installer's lock is free); version directories
no row points at are listed by `bot plugin gc` and deleted only when an admin says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import messages
from bot.plugin_host.lifecycle.discovery import UPLOADS

log = logging.getLogger(__name__)
STAGING = ".staging"
OWNER_FILE = ".owner.json"
OWNER_LOCK = ".owner.lock"


@dataclass(frozen=True)
class Owner:
    database_id: str
    database: str  # the URL without credentials, to name it in a message


class UploadDir:
    def __init__(self, plugins_dir: Path) -> None:
        self.root = plugins_dir / UPLOADS
        self.staging = self.root / STAGING
        self.me: Owner | None = None  # this database, once `open` has been told
        self.owner: Owner | None = None  # who owns the directory; None: nobody yet

    @property
    def ours(self) -> bool:
        """Whether this database owns the directory, read from the disk each time: another
        process (a console, a CLI on another database) may have claimed it since."""
        owner = self.refresh()
        return owner is not None and owner == self.me

    @property
    def theirs(self) -> bool:
        owner = self.refresh()
        return owner is not None and owner != self.me

    def refresh(self) -> Owner | None:
        """Who owns the directory now (this database under another URL is this one)."""
        owner = self.read_owner()
        if owner is not None and self.me is not None and owner.database_id == self.me.database_id:
            owner = self.me
        self.owner = owner
        return owner

    def open(self, me: Owner, *, has_versions: bool) -> str | None:
        """Look who owns the directory (claiming it when nobody does and this database has
        versions in it); the sentence saying whose it is when it is another database's."""
        self.me = me
        if self.refresh() is None and has_versions:
            self.claim()
        owner = self.owner
        if owner is not None and owner != me:
            return messages.uploads_owned_elsewhere(self.root, owner.database)
        return None

    def claim(self) -> None:
        """Become the owner (before the first install); only a dir nobody owns is claimed,
        as the disk says under a lock: never over a claim another process made since this
        one looked (a console left running on another database)."""
        if self.me is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / OWNER_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.refresh() is not None:
                return
            _write_atomically(self.root / OWNER_FILE, json.dumps(
                {"database_id": self.me.database_id, "database": self.me.database}))
            self.owner = self.me

    @contextlib.contextmanager
    def staging_area(self) -> Iterator[Path]:
        """A fresh staging directory, locked for as long as the block runs (a sweep by
        another process leaves it alone), removed afterwards."""
        self.staging.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        lock_path = self.staging / f"{name}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            area = self.staging / name
            area.mkdir()
            try:
                yield area
            finally:
                shutil.rmtree(area, ignore_errors=True)
                lock_path.unlink(missing_ok=True)

    def sweep_staging(self) -> list[Path]:
        """Remove staging directories whose installer died (their lock is free)."""
        if not self.staging.is_dir():
            return []
        removed = []
        for entry in sorted(self.staging.iterdir()):
            if entry.suffix == ".lock" or not _abandoned(entry):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            entry.with_name(f"{entry.name}.lock").unlink(missing_ok=True)
            removed.append(entry)
            log.warning("swept an interrupted install's staging directory: %s", entry)
        return removed

    def unreferenced(self, referenced: set[str]) -> list[Path]:
        """Version directories no row of this database points at (`referenced` holds the
        rows' paths relative to the plugins dir)."""
        owned = {Path(path).parts[:3] for path in referenced}
        if not self.root.is_dir():
            return []
        return [version for plugin in sorted(self.root.iterdir())
                if plugin.is_dir() and plugin.name != STAGING
                for version in sorted(plugin.iterdir())
                if version.is_dir() and (UPLOADS, plugin.name, version.name) not in owned]

    def delete(self, paths: list[Path]) -> None:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
            log.info("deleted unreferenced plugin files: %s", path)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when it was the plugin's last version

    def place(self, entry: Path, target: Path) -> bool:
        """Move an extracted plugin (`entry`, in a staging dir) to `target`, inside a
        version directory that appears whole or not at all, readable by everyone and
        writable by its owner only. False when the version directory was there already
        (the same content, put there by another install or replica: content-addressed)."""
        version_dir = target.parent
        if target.exists():
            return False
        if version_dir.exists():  # without its entry: left by an install interrupted
            shutil.rmtree(version_dir, ignore_errors=True)  # before placing was atomic
        version_dir.parent.mkdir(parents=True, exist_ok=True)
        building = version_dir.with_name(f".{version_dir.name}.{uuid.uuid4().hex[:8]}")
        building.mkdir()
        os.rename(entry, building / target.name)
        for path in [building, *building.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(building, version_dir)
        except OSError:  # another process placed it first
            shutil.rmtree(building, ignore_errors=True)
            return False
        return True

    def remove_plugin(self, name: str) -> None:
        if self.ours or self.me is None:  # None: opened without a database id (tests)
            shutil.rmtree(self.root / name, ignore_errors=True)

    def read_owner(self) -> Owner | None:
        try:
            data = json.loads((self.root / OWNER_FILE).read_text())
            return Owner(str(data["database_id"]), str(data.get("database", "?")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an unreadable %s: %s", self.root / OWNER_FILE, exc)
            return None


def _abandoned(entry: Path) -> bool:
    lock_path = entry.with_name(f"{entry.name}.lock")
    try:
        with open(lock_path) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return True  # from before staging was locked, or the lock went with its installer
    except BlockingIOError:
        return False  # an install in progress, in this process or another
    return True


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)
