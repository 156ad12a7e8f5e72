"""Replays of the security review's attacks from uploaded plugins, in both sandbox modes.

Each test checks what the user (or the victim) sees: the refusal, the tool's result, the file
or process that must not exist, the listener that received nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.app import Services
from bot.plugin_host.sandbox.confine import ROOT_WORKER_BASE
from tests.conftest import REPO
from tests.helpers import zips
from tests.helpers.processes import processes_with
from tests.helpers.slack_harness import until

ATTACKS = '''
import os, socket, subprocess, time

def try_(action):
    try:
        return action()
    except OSError as exc:
        return f"DENIED:{type(exc).__name__}"

def append(path):
    def go():
        with open(path, "a") as handle:
            handle.write("\\nimport os; os.system('touch /tmp/pwned')\\n")
        return "WROTE"
    return try_(go)

def read(path):
    def go():
        with open(path, "rb") as handle:
            return "READ:" + handle.read(32).hex()
    return try_(go)

def daemon(tag):
    subprocess.Popen(["sleep", tag], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "started"

def identity():
    return {"uid": os.getuid(), "pid": os.getpid()}

def spy(pid):
    out = {"environ": read(f"/proc/{pid}/environ")}
    def signal_it():
        os.kill(pid, 0)
        return "SIGNALLED"
    out["signal"] = try_(signal_it)
    return out

def hold_children(count):
    held = []
    for _ in range(count):
        try:
            held.append(subprocess.Popen(["sleep", "300"]))
        except OSError:
            break
    return len(held)

def connect_tcp(port):
    return try_(lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close()
                or "CONNECTED")

def connect_unix(address):
    def go():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(address.replace("@", "\\0", 1))
        return "CONNECTED"
    return try_(go)

def fill_tmp(mb):
    def go():
        with open("/tmp/fill", "wb") as handle:
            for _ in range(mb):
                handle.write(b"x" * 2**20)
        return "WROTE"
    return try_(go)

def drop_files():
    return [append(path) for path in ("/tmp/bot-pwned", "/var/tmp/bot-pwned",
                                      "/dev/shm/bot-pwned")]

def status():
    with open("/proc/self/status") as handle:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in handle)}

def nested_userns():
    done = subprocess.run(["unshare", "--user", "true"], capture_output=True)
    return done.returncode

STR = {"type": "string"}
INT = {"type": "integer"}

def obj(**props):
    return {"type": "object", "properties": props, "required": list(props)}

def get_manifest():
    return {"name": "NAME", "version": "1.0.0", "permissions": PERMISSIONS}

def get_tools():
    tools = {"append": (append, obj(path=STR)), "read": (read, obj(path=STR)),
             "daemon": (daemon, obj(tag=STR)), "identity": (identity, obj()),
             "spy": (spy, obj(pid=INT)), "hold": (hold_children, obj(count=INT)),
             "tcp": (connect_tcp, obj(port=INT)), "unix": (connect_unix, obj(address=STR)),
             "fill": (fill_tmp, obj(mb=INT)), "drop": (drop_files, obj()),
             "status": (status, obj()), "userns": (nested_userns, obj())}
    return [{"schema": {"name": f"NAME_{key}", "parameters": params}, "handler": handler}
            for key, (handler, params) in tools.items()]
'''

IMPORT_DAEMON = '''
import subprocess
import tempfile
subprocess.Popen(["sleep", "7781"], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def get_manifest():
    return {"name": "sneaky", "version": "1.0.0"}

def get_tools():
    return []
'''


def existing(*paths: str) -> list[str]:
    return [path for path in paths if os.path.lexists(path)]


def attacks(name: str, permissions: list[str] | None = None) -> bytes:
    source = ATTACKS.replace("NAME", name).replace("PERMISSIONS", repr(permissions or []))
    return zips.package(name, source)


async def install(services: Services, name: str, data: bytes) -> None:
    result = await services.installer.install(data, f"{name}.zip", actor="U1")
    assert result.ok, result.message
    await services.plugins.enable(name, actor="U1")


async def call(services: Services, tool: str, **arguments: object) -> object:
    result = await services.registry.call(tool, arguments)
    assert result.ok, result.text
    try:
        return json.loads(result.text)
    except json.JSONDecodeError:
        return result.text


@pytest.fixture
async def attacker(sandbox_mode: str, upload_services: Callable[..., Awaitable[Services]]
                   ) -> Services:
    services = await upload_services(plugin_sandbox=sandbox_mode, plugin_worker_tmp_mb=16,
                                     plugin_worker_max_processes=16)
    await install(services, "evil", attacks("evil"))
    await install(services, "victim", attacks("victim"))
    return services


async def test_cannot_plant_code_in_a_builtin_or_read_the_database(
        attacker: Services, builtin: Callable[..., Path]) -> None:
    target = builtin("netdiag")
    init = target / "__init__.py" if target.is_dir() else target
    before = init.read_bytes()
    assert str(await call(attacker, "evil_append", path=str(init))).startswith("DENIED")
    assert init.read_bytes() == before
    db = attacker.settings.database_url.split("///", 1)[1]
    assert str(await call(attacker, "evil_read", path=db)).startswith("DENIED")


def worker_pids(name: str) -> list[int]:
    """Host pids of the processes started for a plugin's worker (found by its private dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"bot-worker-{name}-".encode() in (
                    entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


async def test_plugins_cannot_see_or_signal_each_other(attacker: Services) -> None:
    victim = await call(attacker, "victim_identity")
    evil = await call(attacker, "evil_identity")
    assert isinstance(victim, dict) and isinstance(evil, dict)
    if attacker.settings.plugin_sandbox == "process":
        assert victim["uid"] != evil["uid"]
        assert 0 not in (victim["uid"], evil["uid"])
    pids = worker_pids("victim")
    assert pids  # positive signal: the victim's worker is running
    for pid in pids:
        seen = await call(attacker, "evil_spy", pid=pid)
        assert isinstance(seen, dict)
        assert seen["environ"].startswith("DENIED") and seen["signal"].startswith("DENIED")


async def test_one_plugin_holding_its_process_limit_does_not_starve_another(
        attacker: Services) -> None:
    held = await call(attacker, "evil_hold", count=40)
    assert isinstance(held, int) and 0 < held < 16  # it started some, then hit its own limit
    assert isinstance(await call(attacker, "victim_identity"), dict)
    await attacker.plugins.disable("victim", actor="U1")  # a fresh victim worker starts fine
    await attacker.plugins.enable("victim", actor="U1")
    assert isinstance(await call(attacker, "victim_identity"), dict)


async def test_a_setsid_daemon_dies_with_its_worker(attacker: Services) -> None:
    assert await call(attacker, "evil_daemon", tag="7771") == "started"
    await until(lambda: processes_with(["sleep", "7771"]), 5)  # positive signal: it started
    await attacker.plugins.disable("evil", actor="U1")
    await until(lambda: not processes_with(["sleep", "7771"]), 5)


async def test_a_setsid_daemon_started_at_import_dies_with_the_probe(
        sandbox_mode: str, upload_services: Callable[..., Awaitable[Services]]) -> None:
    services = await upload_services(plugin_sandbox=sandbox_mode)
    result = await services.installer.check(zips.package("sneaky", IMPORT_DAEMON), "s.zip")
    assert result.ok, result.message  # the probe imported it, so the daemon was started
    await until(lambda: not processes_with(["sleep", "7781"]), 5)


async def test_host_temp_dirs_stay_untouched_and_private_tmp_is_bounded(
        attacker: Services) -> None:
    written = await call(attacker, "evil_drop")
    assert isinstance(written, list) and "WROTE" in written  # into its own private dirs
    assert existing("/tmp/bot-pwned", "/var/tmp/bot-pwned", "/dev/shm/bot-pwned") == []
    assert str(await call(attacker, "evil_fill", mb=40)).startswith("DENIED")  # 16 MB tmpfs


async def test_no_new_privileges_and_no_nested_user_namespaces(attacker: Services) -> None:
    status = await call(attacker, "evil_status")
    assert isinstance(status, dict)
    assert status["NoNewPrivs"] == "1"
    assert status["CapEff"] == "0000000000000000"
    if attacker.settings.plugin_sandbox == "bwrap":  # bwrap --disable-userns
        assert await call(attacker, "evil_userns") != 0


async def test_without_network_permission_nothing_local_is_reachable(
        attacker: Services, tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0bot-test-{os.getpid()}")
    abstract.listen()
    path_socket = socket.socket(socket.AF_UNIX)
    path = f"/tmp/bot-test-{os.getpid()}.sock"
    path_socket.bind(path)
    path_socket.listen()
    os.chmod(path, 0o777)
    try:
        port = listener.getsockname()[1]
        assert str(await call(attacker, "evil_tcp", port=port)).startswith("DENIED")
        assert str(await call(attacker, "evil_unix", address=f"@bot-test-{os.getpid()}")
                   ).startswith("DENIED")
        assert str(await call(attacker, "evil_unix", address=path)).startswith("DENIED")
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever arrived
    finally:
        listener.close()
        abstract.close()
        path_socket.close()
        os.unlink(path)


async def test_network_permission_reaches_the_network(
        sandbox_mode: str, upload_services: Callable[..., Awaitable[Services]]) -> None:
    services = await upload_services(plugin_sandbox=sandbox_mode)
    await install(services, "netty", attacks("netty", ["network"]))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        assert await call(services, "netty_tcp", port=port) == "CONNECTED"


async def test_worker_dirs_are_removed_when_workers_stop(attacker: Services,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """This worker's own dir (another test's `evil` may run beside it under xdist)."""
    sandbox, made = attacker.workers.sandbox, []
    prepare = sandbox.prepare

    def recording(**kwargs: Any) -> Any:
        spec = prepare(**kwargs)
        made.append(spec.workdir)
        return spec
    monkeypatch.setattr(sandbox, "prepare", recording)
    await attacker.plugins.disable("evil", actor="U1")  # its next start is recorded
    await attacker.plugins.enable("evil", actor="U1")
    await call(attacker, "evil_identity")
    base = ROOT_WORKER_BASE if os.geteuid() == 0 else Path(tempfile.gettempdir())
    assert made and all(path.parent == base and path.is_dir() for path in made)  # running
    await attacker.plugins.disable("evil", actor="U1")
    assert not any(path.exists() for path in made)


# -- choosing the sandbox: no silent downgrade --------------------------------------------

def fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    """A program on PATH that the sandbox's own uids can run too (tmp_path is 0700)."""
    bin_dir = Path(tempfile.mkdtemp(prefix="bot-test-bin-"))
    bin_dir.chmod(0o755)
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


async def assert_uploads_refused(services: Services, builtin_tool: str, words: str) -> None:
    result = await services.installer.install(attacks("evil"), "evil.zip", actor="U1")
    assert not result.ok
    assert words in result.message
    assert [p.name for p in await services.plugins.list() if p.source == "upload"] == []
    called = await services.registry.call(builtin_tool, {"text": "still here"})
    assert called.ok, called.text


@pytest.fixture
def echo_builtin(builtin: Callable[..., Path]) -> str:
    builtin("echoer")
    return "echoer_echo"


async def test_auto_without_bubblewrap_refuses_uploads_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_builtin: str,
        upload_services: Callable[..., Awaitable[Services]]) -> None:
    monkeypatch.setenv("PATH", str(fake_bin(tmp_path, "unrelated", "exit 0")))
    services = await upload_services(plugin_sandbox="auto")
    await services.plugins.enable("echoer", actor="U1")
    await assert_uploads_refused(services, echo_builtin, messages.bwrap_missing())
    assert "apt-get install bubblewrap" in messages.bwrap_missing()  # the fix is named


async def test_auto_with_a_bubblewrap_the_kernel_refuses_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_builtin: str,
        upload_services: Callable[..., Awaitable[Services]]) -> None:
    bin_dir = fake_bin(tmp_path, "bwrap", "echo 'bwrap: setting up uid map: Permission denied'"
                       " >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    services = await upload_services(plugin_sandbox="auto")
    await services.plugins.enable("echoer", actor="U1")
    await assert_uploads_refused(services, echo_builtin, "unprivileged user namespaces")


async def test_a_sandbox_that_fails_to_start_workers_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        upload_services: Callable[..., Awaitable[Services]]) -> None:
    if not existing("/usr/bin/bwrap"):
        pytest.fail("bubblewrap must be installed for this test (.ci/run installs it)")
    # passes the start-up check (`... true`), fails for real workers, as seen in containers
    bin_dir = fake_bin(tmp_path, "bwrap", 'for last; do :; done\n[ "$last" = true ] && '
                       'exec /usr/bin/bwrap "$@"\necho "bwrap: Can\'t mount proc on '
                       '/newroot/proc: Operation not permitted" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    services = await upload_services(plugin_sandbox="auto")
    result = await services.installer.install(attacks("evil"), "evil.zip", actor="U1")
    assert not result.ok
    assert (f"sandbox: {messages.sandbox_failed_to_start('')}bwrap: Can't mount proc"
            in result.message), result.message
    assert "sys.exit" not in result.message


def test_process_mode_as_a_non_root_bot_refuses_uploads(tmp_path: Path) -> None:
    """The critical finding: a non-root bot ran 'process' workers as its own user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start the bot as another user")
    probe = ("import os; from bot.plugin_host import make_sandbox; "  # loaded as root, then run
             "from bot.config import load_settings; "
             "settings = load_settings(plugin_sandbox='process'); "
             "os.setgroups([]); os.setgid(65534); os.setuid(65534); "
             "print(make_sandbox(settings).describe())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == messages.uploads_disabled(
        messages.process_sandbox_needs_root())


@pytest.fixture
def venv_under_tmp() -> Iterator[Path]:
    """A venv with a copied interpreter in a world-readable dir under /tmp."""
    home = Path(tempfile.mkdtemp(prefix="bot-test-venv-"))
    home.chmod(0o755)
    made = subprocess.run(["/usr/bin/python3", "-m", "venv", "--copies", "--without-pip",
                           str(home / "venv")], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    yield home / "venv" / "bin" / "python3"
    shutil.rmtree(home, ignore_errors=True)


async def test_bubblewrap_runs_a_python_that_lives_under_tmp(
        venv_under_tmp: Path, upload_services: Callable[..., Awaitable[Services]]) -> None:
    """Attack on usability: a venv under /tmp was hidden by the sandbox's own /tmp, and
    every upload was refused as 'sys.exit at import?'."""
    if not existing("/usr/bin/bwrap"):
        pytest.fail("bubblewrap must be installed for this test (.ci/run installs it)")
    services = await upload_services(plugin_sandbox="auto", plugin_python=str(venv_under_tmp))
    await install(services, "evil", attacks("evil"))
    status = await call(services, "evil_status")
    assert isinstance(status, dict) and status["NoNewPrivs"] == "1"


def test_the_bot_is_non_dumpable_from_the_import_of_its_package() -> None:
    """Attack: /proc/<bot>/environ was readable during start-up, before hardening ran."""
    probe = ("import bot, ctypes; libc = ctypes.CDLL(None); "
             "print(libc.prctl(3, 0, 0, 0, 0))")  # PR_GET_DUMPABLE
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO)
    assert done.stdout.strip() == "0", done.stderr


async def test_an_installed_upload_is_refused_at_load_without_a_sandbox_and_keeps_its_uid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_builtin: str,
        upload_services: Callable[..., Awaitable[Services]]) -> None:
    first = await upload_services(plugin_sandbox="process")
    await install(first, "evil", attacks("evil"))
    uid = (await call(first, "evil_identity"))["uid"]  # type: ignore[index]
    await first.close()

    monkeypatch.setenv("PATH", str(fake_bin(tmp_path, "unrelated", "exit 0")))
    without = await upload_services(plugin_sandbox="auto")
    info = await without.plugins.info("evil")
    assert (info.status, info.sandbox) == ("error", "none")
    assert messages.uploads_disabled(messages.bwrap_missing()) in (info.error or "")
    await without.plugins.enable("echoer", actor="U1")
    assert (await without.registry.call(echo_builtin, {"text": "x"})).ok
    await without.close()

    monkeypatch.undo()
    again = await upload_services(plugin_sandbox="process")
    await again.plugins.enable("evil", actor="U1")
    assert (await call(again, "evil_identity"))["uid"] == uid  # type: ignore[index]


def test_a_non_root_bot_removes_its_read_only_worker_dirs() -> None:
    """Low finding: a non-root bot left a /tmp/bot-worker-* behind for every worker, since
    the plugin copy is read-only and rmtree could not empty its directories."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the check as another user")
    probe = ("import os, pathlib, tempfile; "
             "from bot.plugin_host.sandbox.confine import remove_tree; "
             "os.setgroups([]); os.setgid(65534); os.setuid(65534); "
             "work = pathlib.Path(tempfile.mkdtemp(prefix='bot-worker-test-')); "
             "code = work / 'code' / 'plugin'; code.mkdir(parents=True); "
             "(code / 'x.py').write_text('x = 1'); "
             "[p.chmod(0o444 if p.is_file() else 0o555) for p in [code / 'x.py', code, "
             "work / 'code']]; remove_tree(work); print(work.exists())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, cwd=REPO)
    assert done.stdout.strip() == "False", done.stderr
