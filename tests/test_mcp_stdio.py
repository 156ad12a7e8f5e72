"""Local MCP servers the operator lists in MCP_SERVERS: each a real stdio server written
with the SDK (tests/fakes/mcp_stdio_server.py), run inside bubblewrap with the permissions it
declares — started on the first call, started again after a crash, stopped when idle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from bot.config import load_settings
from bot.errors import ConfigError, PluginError
from bot.plugin_host.contract.protocol import ErrorKind
from bot.store.repositories import PluginRepository
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.slack_admin import command
from tests.helpers.slack_harness import SlackBot, until

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "fakes" / "mcp_stdio_server.py"
NODE_SERVER = REPO / "tests" / "fakes" / "mcp_stdio_server.js"
Make = Callable[..., Awaitable[SlackBot]]


def entry(*, network: bool = False) -> dict[str, object]:
    """An MCP_SERVERS entry for the test server: the checkout (with its virtualenv, whose
    packages hold the SDK) visible read-only in the sandbox, as an operator lists a
    server's own install. The system's Python runs it when it is this one's version: a
    root bot's servers run under their plugin's uid, which cannot read a Python kept
    under /root (pyenv)."""
    python = sys.executable
    system = Path("/usr/bin/python3")
    if system.exists() and os.path.realpath(system).endswith(
            f"python{sys.version_info.major}.{sys.version_info.minor}"):
        python = str(system)
    site = sysconfig.get_paths()["purelib"]
    return {"command": [python, str(SERVER)],
            "env": {"GREETING": "hello", "PYTHONPATH": site},
            "permissions": ["network"] if network else [],
            "paths": sorted({str(REPO), site})}


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _ours(pid: int) -> bool:
    """Whether `pid` descends from this test process (not another pytest worker's)."""
    with contextlib.suppress(OSError, ValueError):
        while pid > 1:
            pid = _parent(pid)
            if pid == os.getpid():
                return True
    return False


def server_processes() -> list[int]:
    """Live Pythons this test started running the test server (any uid, any PID
    namespace; not the sandbox's own processes, whose command lines name it too)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if str(SERVER).encode() in argv and Path(argv[0].decode()).name.startswith(
                "python") and _ours(int(proc.name)):
            found.append(int(proc.name))
    return found


@pytest.fixture
def bwrap(sandbox_mode: str) -> str:
    if sandbox_mode != "bwrap":
        pytest.skip("a stdio server is the operator's program: tested where it is meant "
                    "to run, under bubblewrap (the process sandbox hides /tmp checkouts)")
    return sandbox_mode


async def test_a_configured_server_is_listed_disabled_then_runs_confined_in_slack(
        slack_bot: Make, bwrap: str, fake_openai: FakeOpenAI) -> None:
    bot = await slack_bot(plugin_sandbox="bwrap", mcp_servers={"probe": entry()})
    listing = await command(bot, "list", "U_SOMEONE")
    assert "probe" in listing and "disabled" in listing.split("probe")[1].splitlines()[0]
    assert server_processes() == []  # nothing runs before it is enabled
    assert await command(bot, "enable probe", "U_ADMIN") == (
        "Enabled probe 0.3.0 (where, reach, nap, crash).")
    bot.ai.reply(tool_calls=[FakeOpenAI.tool_call("where", {}, "c1")])
    bot.ai.reply("It runs confined.")
    ts, _ = await bot.mention("where does probe run?")
    await until(lambda: [a for a in bot.answers(ts) if a == "It runs confined."])
    seen = json.loads(bot.ai.messages(1)[-1]["content"])
    assert seen["greeting"] == "hello"  # its own settings, and nothing of the bot's:
    assert set(seen["env"]) == {"PATH", "LANG", "HOME", "TMPDIR", "GREETING", "PYTHONPATH"}
    bound = {Path(p).parts[2] for p in entry()["paths"]  # type: ignore[union-attr]
             if Path(p).parts[1:2] == ("tmp",)}  # a checkout under /tmp (CI's clone)
    assert set(seen["tmp"]) == bound  # its own /tmp: nothing of the host's but its paths
    info = await command(bot, "info probe", "U_ADMIN")
    assert "Runs in:     bubblewrap" in info and "Transport:   stdio (MCP_SERVERS)" in info
    assert await command(bot, "remove probe", "U_ADMIN") == (
        messages.mcp_configured_not_removable("probe"))
    assert await command(bot, "mcp add probe http://127.0.0.1:9/mcp", "U_ADMIN") == (
        messages.mcp_configured_not_removable("probe"))


async def test_network_only_when_declared(agent_services: Callable[..., Awaitable[Services]],
                                          bwrap: str, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(plugin_sandbox="bwrap", mcp_servers={
        "closed": entry(), "open": {**entry(network=True)}})
    port = int(fake_openai.base_url.rsplit(":", 1)[1].split("/")[0])  # a live local port
    await services.plugins.enable("closed", actor="ops")
    closed = await services.registry.call("reach", {"host": "127.0.0.1", "port": port})
    assert closed.ok and closed.text.startswith("blocked: "), closed.text
    await services.plugins.disable("closed", actor="ops")
    await services.plugins.enable("open", actor="ops")
    opened = await services.registry.call("reach", {"host": "127.0.0.1", "port": port})
    assert opened.text == "connected"


async def test_started_lazily_restarted_after_a_crash_and_stopped_when_idle(
        agent_services: Callable[..., Awaitable[Services]], bwrap: str) -> None:
    first = await agent_services(plugin_sandbox="bwrap", mcp_servers={"probe": entry()})
    await first.plugins.enable("probe", actor="ops")
    await first.close()
    await until(lambda: server_processes() == [])
    services = await agent_services(plugin_sandbox="bwrap", mcp_servers={"probe": entry()},
                                    plugin_worker_idle_seconds=1.5)
    assert "where" in services.registry.snapshot  # offered from what it listed before
    await asyncio.sleep(0.3)
    assert server_processes() == []  # ... and not started until it is called
    before = await services.registry.call("where", {})
    assert before.ok, before.text
    first_run = server_processes()
    assert len(first_run) == 1
    if os.geteuid() == 0:  # a root bot runs it under the plugin's own uid
        async with services.db.read() as session:
            row = await PluginRepository(session).get("probe")
        assert row is not None and json.loads(before.text)["uid"] == row.sandbox_uid
    crashed = await services.registry.call("crash", {})
    assert crashed.error == ErrorKind.CRASHED
    assert "the next call connects again" in crashed.text
    after = await services.registry.call("where", {})
    assert after.ok, after.text
    assert len(server_processes()) == 1 and server_processes() != first_run  # a new one
    slow = await services.registry.call("nap", {"seconds": 2.5})  # longer than idle
    assert slow.text == "slept 2.5 s", slow.text  # a call in flight is never reaped
    assert await until(lambda: server_processes() == [], seconds=10)  # idle: stopped


def test_a_malformed_entry_is_one_line_naming_it() -> None:
    cases = {"bad": {"command": "mcp-server"}, "worse": {"command": ["x"], "perms": []},
             "Upper": {"command": ["x"]}, "net": {"command": ["x"], "permissions": ["root"]}}
    for name, spec in cases.items():
        with pytest.raises(ConfigError) as bad:
            load_settings(mcp_servers={name: spec})
        assert f"MCP_SERVERS entry {name!r}: " in str(bad.value)


async def test_entries_get_rows_once_and_taken_out_ones_go_when_switched_off(
        agent_services: Callable[..., Awaitable[Services]], builtin: Callable[..., object],
        caplog: pytest.LogCaptureFixture) -> None:
    builtin("alpha")
    first = await agent_services(mcp_servers={"probe": entry(), "spare": entry(),
                                              "alpha": entry()})
    sources = {p.name: p.source for p in await first.plugins.list()}
    assert sources == {"alpha": "builtin", "probe": "mcp", "spare": "mcp"}
    assert messages.mcp_local_bad("alpha", messages.shadows_builtin("alpha")) in caplog.text
    async with first.db.write() as session:  # `probe` on, as an admin would have it
        row = await PluginRepository(session).get("probe")
        assert row is not None
        row.enabled = True
    await agent_services(mcp_servers={"probe": entry(), "spare": entry(), "alpha": entry()})
    assert messages.mcp_local_taken("alpha", "builtin") in caplog.text  # its row exists now
    again = await agent_services(mcp_servers={})  # both entries taken out of the setting
    names = [p.name for p in await again.plugins.list()]
    assert names == ["alpha", "probe"]  # the enabled one stays, with its error, until off
    assert (await again.plugins.info("probe")).status == "error"
    audit = [(e.action, e.target) for e in await again.audit.recent(20)]
    assert audit.count(("mcp-add", "probe")) == 1 and ("mcp-add", "alpha") not in audit


@pytest.fixture
def node(bwrap: str) -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Node must be installed in CI (.ci/run installs nodejs)")
        pytest.skip("Node is not installed (apt-get install nodejs)")
    return os.path.realpath(found)


async def test_a_node_server_starts_under_the_default_limit_and_memory_mb_bounds_it(
        agent_services: Callable[..., Awaitable[Services]], node: str) -> None:
    """Node reserves gigabytes of address space at start (an address-space limit of 512 MB
    killed it with "Failed to reserve virtual memory for CodeRange"); the data limit lets
    it start and still holds it: past its `memory_mb` it dies, and the error says so and
    what to raise."""
    spec = {"command": [node, str(NODE_SERVER)], "paths": [str(NODE_SERVER.parent)]}
    services = await agent_services(plugin_sandbox="bwrap", mcp_servers={
        "nodeprobe": spec, "nodesmall": {**spec, "memory_mb": 96}})
    await services.plugins.enable("nodeprobe", actor="ops")
    held = await services.registry.call("node_hold", {"mb": 8})
    assert held.ok and held.text.startswith("node v") and "holds 8 MB" in held.text, held.text
    await services.plugins.disable("nodeprobe", actor="ops")
    await services.plugins.enable("nodesmall", actor="ops")
    small = await services.registry.call("node_hold", {"mb": 400})
    assert not small.ok
    assert any(said in small.text for said in (  # Node's own words, or its fatal signal
        "ran out of memory under its 96 MB limit: raise MCP_SERVERS['nodesmall'].memory_mb",
        "under its 96 MB memory limit that is most often memory running out: raise "
        "MCP_SERVERS['nodesmall'].memory_mb")), small.text


async def test_a_program_missing_from_the_sandbox_is_named(
        agent_services: Callable[..., Awaitable[Services]], bwrap: str) -> None:
    services = await agent_services(plugin_sandbox="bwrap", mcp_servers={
        "ghost": {"command": ["/opt/nowhere/mcp-ghost", "--stdio"]}})
    with pytest.raises(PluginError) as refused:
        await services.plugins.enable("ghost", actor="ops")
    assert ("its program '/opt/nowhere/mcp-ghost' was not found in the sandbox, which holds "
            "only the system's directories and the entry's 'paths': list the directory "
            "holding it under MCP_SERVERS['ghost'].paths") in str(refused.value)


def test_memory_mb_must_be_a_sane_whole_number() -> None:
    for value in (0, 63, 70_000, 1.5, "512", True):
        with pytest.raises(ConfigError) as bad:
            load_settings(mcp_servers={"x": {"command": ["x"], "memory_mb": value}})
        assert "'memory_mb' must be a whole number of MB from 64 to 65536" in str(bad.value)
    assert load_settings(mcp_servers={"x": {"command": ["x"], "memory_mb": 2048}}
                         ).local_mcp_servers["x"].memory_mb == 2048
