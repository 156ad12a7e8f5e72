"""A disk that fills up under a running bot: a small tmpfs of its own (root only), filled to
the last byte, and SQLite's write-ahead log emptied so that the next write must grow a
file. Shared by tests/test_database_faults.py and bench/bench_faults.py."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path


class MountRefused(Exception):
    """The tmpfs could not be mounted here (not root, or no permission): why."""


@contextlib.contextmanager
def small_tmpfs(directory: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `directory`/small for the block's duration."""
    mount = directory / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise MountRefused(done.stderr.strip() or f"mount exited {done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory: Path) -> Path:
    """Fill the file system `directory` is on, to the last byte; the filler's path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


def checkpoint(db: Path) -> None:
    """Empty the WAL, so that the next write must grow a file."""
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
