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


def available() -> bool:
    return all(binary(name) for name in ("initdb", "pg_ctl", "postgres"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server() -> Iterator[str]:
    """Start a cluster; yields the base URL (`postgresql://postgres@127.0.0.1:PORT`)."""
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    data, port = root / "data", _free_port()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "nobody", "--"] if as_root else []
    if as_root:
        root.chmod(0o755)
        shutil.chown(root, "nobody", "nogroup")
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([*prefix, binary("initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]
    options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    subprocess.run([*prefix, binary("pg_ctl"), "-D", str(data), "-o", options, "-w",
                    "-t", "60", "-l", str(root / "log"), "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, binary("pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


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
