"""A real PostgreSQL server for the tests: a throwaway cluster (initdb) in a temporary
directory, started with pg_ctl on a free localhost port, one fresh database per test.

PostgreSQL refuses to run as root; as root (CI) the cluster belongs to `nobody`. The
binaries come from PATH or Debian's /usr/lib/postgresql/N/bin (apt-get install postgresql,
as .ci/run does)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _bin(name: str) -> str:
    found = binary(name)
    if found is None:
        raise FileNotFoundError(f"{name}: install postgresql (apt-get install postgresql)")
    return found


def available() -> bool:
    return all(binary(name) for name in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A throwaway cluster on a free localhost port, which a test may stop and start again
    (an outage of the database under a running bot)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data, self.port = self.root / "data", _free_port()
        as_root = os.geteuid() == 0
        self._prefix = ["runuser", "-u", "nobody", "--"] if as_root else []
        if as_root:
            self.root.chmod(0o755)
            shutil.chown(self.root, "nobody", "nogroup")
        self._run([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run([_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
                   "-l", str(self.root / "log"), "start"])

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run([*self._prefix, _bin("pg_ctl"), "-D", str(self.data), "-m", mode,
                        "stop"], capture_output=True, timeout=60)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, argv: list[str]) -> None:
        subprocess.run([*self._prefix, *argv], check=True, capture_output=True, text=True,
                       timeout=120)


@contextmanager
def server() -> Iterator[str]:
    """Start a cluster; yields the base URL (`postgresql://postgres@127.0.0.1:PORT`)."""
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.remove()


async def fresh_database(base: str) -> str:
    """A new, empty database on the server; its asyncpg URL."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(f"{base}/postgres")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
