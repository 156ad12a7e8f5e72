"""Runtime faults of enabled uploaded plugins, in every sandbox mode: each is an error
result, and the bot and the other plugins keep working."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from tests.helpers import zips
from tests.helpers.processes import all_cmdlines, processes_with
from tests.helpers.slack_harness import until

FAULTY = '''
import json, os, socket, subprocess, sys, time

def raise_it():
    raise ValueError("handler exploded")

def hang():
    time.sleep(60)

def exit_now():
    os._exit(3)

def hog():
    return len(bytearray(2 * 1024 ** 3))

def chatter():
    print("garbage " * 500, flush=True)
    print("\\x00\\xff not a protocol line", file=sys.stderr, flush=True)
    return "still fine"

def env():
    return dict(os.environ)

def read_environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return "READ:" + handle.read().decode(errors="replace")
    except OSError as exc:
        return f"DENIED:{type(exc).__name__}"

def parent_environ():
    return read_environ(os.getppid())

def corrupt():
    fd = json.loads(sys.argv[1])["fd_out"]
    os.write(fd, b"this is not json\\n")
    time.sleep(5)

def huge():
    return "x" * (3 * 1024 * 1024)

def grandchild():
    subprocess.Popen(["sleep", "4321"])
    time.sleep(60)

def whoami():
    return {"uid": os.getuid(), "pid": os.getpid()}

def deep():
    value = "bottom"
    for _ in range(5000):
        value = [value]
    return value

def odd_failure():
    from bot.sdk import ToolFailure
    raise ToolFailure("the backend said no", kind="teapot")

def leak():
    return {"db": {"password": "upload-secret-pw"}, "note": "key AKIAIOSFODNN7EXAMPL3 in use"}

NOARGS = {"type": "object", "properties": {}}
PID = {"type": "object", "properties": {"pid": {"type": "integer"}}, "required": ["pid"]}

def get_manifest():
    return {"name": "faulty", "version": "1.0.0"}

def get_tools():
    tools = [raise_it, hang, exit_now, hog, chatter, env, parent_environ, corrupt, huge,
             grandchild, whoami, deep, odd_failure, leak]
    out = [{"schema": {"name": f.__name__, "parameters": NOARGS}, "handler": f, "timeout": 2}
           for f in tools]
    out.append({"schema": {"name": "read_environ", "parameters": PID},
                "handler": read_environ})
    return out
'''

SECRET = "xoxb-super-secret-token-for-tests"


@pytest.fixture
async def services(sandbox_mode: str, monkeypatch: pytest.MonkeyPatch,
                   upload_services: Callable[..., Awaitable[Services]]) -> Services:
    for name in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY", "DATABASE_URL"):
        monkeypatch.setenv(name, SECRET)
    services = await upload_services(plugin_sandbox=sandbox_mode, plugin_max_response_mb=1)
    for name, source in (("faulty", FAULTY), ("steady", None)):
        result = await services.installer.install(zips.package(name, source), f"{name}.zip",
                                                  actor="U1")
        assert result.ok, result.message
        await services.plugins.enable(name, actor="U1")
    return services


async def still_healthy(services: Services) -> None:
    assert (await services.registry.call("steady_echo", {"text": "ok"})).text == "steady:ok"
    assert json.loads((await services.registry.call("whoami")).text)["uid"] >= 0


async def test_handler_exception_is_an_error_result(services: Services) -> None:
    result = await services.registry.call("raise_it")
    assert (result.ok, result.error) == (False, "failed")
    assert result.text.startswith("Tool 'raise_it' failed: ValueError: handler exploded (")
    await still_healthy(services)


async def test_hang_is_stopped_at_the_timeout_and_the_worker_replaced(
        services: Services) -> None:
    result = await services.registry.call("hang")
    assert (result.ok, result.error) == (False, "timeout")
    assert result.text == "Tool 'hang' timed out after 2 s and was stopped."
    await still_healthy(services)


async def test_os_exit_is_a_crash_result(services: Services) -> None:
    result = await services.registry.call("exit_now")
    assert (result.ok, result.error) == (False, "crashed")
    assert "exited with code 3" in result.text
    await still_healthy(services)


async def test_memory_limit_turns_into_an_error(services: Services) -> None:
    result = await services.registry.call("hog")
    assert not result.ok
    assert "MemoryError" in result.text or "killed" in result.text
    await still_healthy(services)


async def test_stdout_garbage_goes_to_the_log_not_the_protocol(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="plugin.faulty")
    result = await services.registry.call("chatter")
    assert (result.ok, result.text) == (True, "still fine")
    await asyncio.sleep(0.2)
    assert any("garbage garbage" in r.getMessage() for r in caplog.records)


async def test_non_protocol_line_on_the_pipe_is_an_error_not_a_hang(
        services: Services) -> None:
    result = await services.registry.call("corrupt")
    assert (result.ok, result.error) == (False, "crashed")
    assert "not a protocol message" in result.text
    await still_healthy(services)


async def test_oversized_response_is_an_error_not_a_hang(services: Services) -> None:
    result = await services.registry.call("huge")
    assert (result.ok, result.error) == (False, "crashed")
    assert "over the 1,048,576-byte limit" in result.text
    await still_healthy(services)



async def test_timeout_kills_the_grandchildren_too(services: Services) -> None:
    call = asyncio.ensure_future(services.registry.call("grandchild"))
    await until(lambda: processes_with(["sleep", "4321"]), 5)  # positive signal: it runs
    result = await call
    assert result.error == "timeout"
    for _ in range(50):
        if not processes_with(["sleep", "4321"]):
            break
        await asyncio.sleep(0.1)
    assert processes_with(["sleep", "4321"]) == []


async def test_worker_sees_none_of_the_bots_secrets(services: Services) -> None:
    environment = json.loads((await services.registry.call("env")).text)
    assert SECRET not in json.dumps(environment)
    assert not {k for k in environment if k.startswith(("SLACK_", "OPENAI_", "DATABASE_"))}


async def test_worker_cannot_read_the_bots_proc_environ(services: Services) -> None:
    direct = (await services.registry.call("read_environ", {"pid": os.getpid()})).text
    via_parent = (await services.registry.call("parent_environ")).text
    for text in (direct, via_parent):
        assert SECRET not in text
    assert direct.startswith("DENIED:")


async def test_worker_runs_unprivileged_when_the_bot_is_root(services: Services) -> None:
    uid = json.loads((await services.registry.call("whoami")).text)["uid"]
    if os.geteuid() == 0:
        assert uid != 0
    else:
        assert uid == os.geteuid()


async def test_repeated_crashes_disable_the_plugin_with_the_reason(
        services: Services) -> None:
    for _ in range(3):
        assert (await services.registry.call("exit_now")).error == "crashed"
    await services.registry.settled()  # health hears outcomes off the call's path
    info = await services.plugins.info("faulty")
    assert (info.status, info.enabled) == ("error", False)
    assert info.error.startswith(messages.auto_disabled(3, "").split(" (last")[0])
    assert "whoami" not in services.registry.snapshot
    event = (await services.audit.recent(1, target="faulty"))[0]
    assert (event.actor, event.action) == ("system", "disable")
    assert (await services.registry.call("steady_echo")).ok
    await services.plugins.enable("faulty", actor="U1")
    assert (await services.registry.call("whoami")).ok


async def test_success_resets_the_failure_count(services: Services) -> None:
    for _ in range(2):
        await services.registry.call("exit_now")
    await services.registry.call("whoami")
    for _ in range(2):
        await services.registry.call("exit_now")
    await services.registry.settled()
    assert (await services.plugins.info("faulty")).status == "enabled"


async def test_idle_worker_is_reaped_and_restarted_on_demand(
        sandbox_mode: str, upload_services: Callable[..., Awaitable[Services]]) -> None:
    services = await upload_services(plugin_sandbox=sandbox_mode,
                                     plugin_worker_idle_seconds=0.3)
    name = f"sleepy_{sandbox_mode}"  # its own name: the other mode may run at the same time
    assert (await services.installer.install(zips.package(name), "s.zip", actor="U1")).ok
    await services.plugins.enable(name, actor="U1")
    marker = f"bot-worker-{name}-"

    def workers() -> int:
        return sum(marker in cmdline for cmdline in all_cmdlines())

    assert workers() == 0  # started lazily
    assert (await services.registry.call(f"{name}_echo")).ok
    assert workers() >= 1
    await until(lambda: workers() == 0)
    assert (await services.registry.call(f"{name}_echo", {"text": "again"})).text == (
        f"{name}:again")


def _running(pid: int) -> bool:
    """Neither gone nor a zombie (a killed child stays one until it is waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_worker_started_while_the_last_one_is_reaped_lives(
        sandbox_mode: str, upload_services: Callable[..., Awaitable[Services]]) -> None:
    """A call right after an idle stop started a new worker while the stop was still to
    reap the plugin's uid: the reap killed the new worker ("the sandbox could not start
    the worker: exit code -9", seen in CI). Here the new worker's launch is held open (as
    a slow exec holds it) while the old one is stopped: the new process must live."""
    services = await upload_services(plugin_sandbox=sandbox_mode)
    name = f"reaped_{sandbox_mode}"
    assert (await services.installer.install(zips.package(name), "r.zip", actor="U1")).ok
    await services.plugins.enable(name, actor="U1")
    assert (await services.registry.call(f"{name}_echo")).ok
    tool = services.registry.snapshot.get(f"{name}_echo")
    assert tool is not None
    host = tool.invoke.__self__  # type: ignore[attr-defined]  # its WorkerHost
    marker = f"bot-worker-{name}-"

    def old_worker_gone() -> bool:
        return not any(marker in cmdline for cmdline in all_cmdlines())

    async with host.sandbox.launching(host.uid):  # the next worker's launch, under way
        stopping = asyncio.create_task(host.close())  # as the idle timer stops the last
        with contextlib.suppress(TimeoutError):  # the old code stops at once; ours waits
            await asyncio.wait_for(until(lambda: old_worker_gone() and host.uid not in
                                         host.sandbox._live), 1)  # the stop's reap began
        newcomer = await asyncio.create_subprocess_exec(
            "sleep", "60", user=host.uid, group=host.uid, extra_groups=[])
    await stopping  # a reap kills every process of the uid before the stop returns
    try:
        assert old_worker_gone()
        assert _running(newcomer.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            newcomer.kill()
        await newcomer.wait()


async def test_worker_starts_crashes_and_restarts_are_counted(services: Services) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def counted() -> dict[str, float]:
        return {s.name: s.value for family in text_string_to_metric_families(
                    services.metrics.render().decode())
                for s in family.samples if s.labels.get("plugin") == "faulty"
                and s.name.startswith("chatops_plugin_worker_")}

    assert (await services.registry.call("whoami")).ok
    assert counted() == {"chatops_plugin_worker_starts_total": 1}
    assert (await services.registry.call("exit_now")).error == "crashed"
    assert (await services.registry.call("whoami")).ok
    await services.registry.settled()
    assert counted() == {"chatops_plugin_worker_starts_total": 1,
                         "chatops_plugin_worker_crashes_total": 1,
                         "chatops_plugin_worker_restarts_total": 1}


async def test_a_result_nested_thousands_deep_is_refused_at_once(services: Services) -> None:
    """The worker answers at once (it used to stay silent until the tool's timeout)."""
    result = await services.registry.call("deep")
    assert (result.ok, result.error) == (False, "failed")
    assert "nested too deeply" in result.text and result.duration_ms < 2000
    await still_healthy(services)


async def test_an_unknown_failure_kind_is_an_ordinary_failure(services: Services) -> None:
    result = await services.registry.call("odd_failure")
    assert (result.ok, result.error) == (False, "failed")
    assert result.text == messages.tool_failed("odd_failure", "the backend said no")


async def test_an_uploads_result_is_masked_by_content(services: Services) -> None:
    result = await services.registry.call("leak")
    assert result.ok
    assert "upload-secret-pw" not in result.text and "AKIAIOSFODNN7EXAMPL3" not in result.text
    assert json.loads(result.text)["db"] == {"password": "[REDACTED]"}


async def test_a_call_returns_before_its_health_is_counted(services: Services) -> None:
    """The failure count is a database write: the caller does not wait for it, and it is
    counted all the same, in order."""
    async with services.db.write():  # the database is busy: the count cannot be written
        result = await asyncio.wait_for(services.registry.call("exit_now"), 10)
        assert result.error == "crashed"
    await services.registry.settled()
    async with services.db.read() as session:
        from bot.store.models import PluginRow
        row = await session.get(PluginRow, "faulty")
        assert row is not None and row.consecutive_failures == 1
