"""Under bubblewrap: no database, no writes outside the private /tmp, no network unless the
manifest asks for the `network` permission."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator

import pytest

from bot.app import Services
from tests.helpers import zips

PROBE = '''
import os, socket

def read_file(path):
    try:
        with open(path, "rb") as handle:
            return "READ:" + handle.read(64).hex()
    except OSError as exc:
        return f"DENIED:{type(exc).__name__}"

def write_file(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        return "WROTE"
    except OSError as exc:
        return f"DENIED:{type(exc).__name__}"

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "CONNECTED"
    except OSError as exc:
        return f"DENIED:{type(exc).__name__}"

def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

PATH = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
PORT = {"type": "object", "properties": {"port": {"type": "integer"}}, "required": ["port"]}

def get_manifest():
    return {"name": "NAME", "version": "1.0.0", "permissions": PERMISSIONS}

def get_tools():
    return [{"schema": {"name": "NAME_read", "parameters": PATH}, "handler": read_file},
            {"schema": {"name": "NAME_write", "parameters": PATH}, "handler": write_file},
            {"schema": {"name": "NAME_connect", "parameters": PORT}, "handler": connect},
            {"schema": {"name": "NAME_pids", "parameters": {"type": "object"}},
             "handler": pids}]
'''


def source(name: str, permissions: list[str]) -> str:
    return PROBE.replace("NAME", name).replace("PERMISSIONS", repr(permissions))


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
async def services(upload_services: Callable[..., Awaitable[Services]]) -> Services:
    from tests.conftest import bwrap_usable
    if not bwrap_usable():
        import os
        if os.environ.get("CI"):
            pytest.fail("bubblewrap must be usable in CI (.ci/run installs it)")
        pytest.skip("bubblewrap is not installed or not usable here")
    services = await upload_services(plugin_sandbox="bwrap")
    for name, perms in (("offline", []), ("online", ["network"])):
        result = await services.installer.install(zips.package(name, source(name, perms)),
                                                  f"{name}.zip", actor="U1")
        assert result.ok, result.message
        await services.plugins.enable(name, actor="U1")
    return services


async def text(services: Services, tool: str, **args: object) -> str:
    result = await services.registry.call(tool, args)
    assert result.ok, result.text
    return json.loads(result.text) if result.text.startswith("[") else result.text


async def test_the_database_file_is_not_readable(services: Services) -> None:
    db_file = services.settings.database_url.split("///", 1)[1]
    assert await text(services, "offline_read", path=db_file) == "DENIED:FileNotFoundError"
    plugins = str(services.settings.plugins_dir / "user_uploads")
    assert (await text(services, "offline_read", path=plugins)).startswith("DENIED:")


async def test_writes_only_inside_the_private_tmp(services: Services) -> None:
    assert await text(services, "offline_write", path="/tmp/scratch.txt") == "WROTE"
    for path in ("/usr/evil.txt", "/sandbox/code/evil.py", "/etc/evil.conf", "/evil.txt"):
        assert (await text(services, "offline_write", path=path)).startswith("DENIED:"), path


async def test_no_network_without_the_permission(services: Services, listener: int) -> None:
    assert (await text(services, "offline_connect", port=listener)).startswith("DENIED:")


async def test_network_with_the_permission(services: Services, listener: int) -> None:
    assert await text(services, "online_connect", port=listener) == "CONNECTED"


async def test_own_pid_namespace(services: Services) -> None:
    assert max(await text(services, "offline_pids")) < 10
