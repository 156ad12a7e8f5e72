"""How uploaded-plugin workers are confined.

`PLUGIN_SANDBOX=auto` (the default) and `bwrap` mean bubblewrap: a read-only view of the
system, a size-limited private /tmp, its own PID namespace and /proc, no network unless the
manifest asks for `network`, no nested user namespaces. When bubblewrap is missing or cannot
start here, uploads are refused with the reason — there is no silent fallback.

`process` is for an operator who chose it, and only for a root bot: each plugin's workers run
under the plugin's own uid (from `PLUGIN_UID_RANGE`, kept in the database), with
`no_new_privs`, a fresh network namespace unless it has `network`, and private tmpfs on
/tmp, /var/tmp and /dev/shm (util-linux `unshare` and `setpriv` do the switching).

Either way a worker gets a stripped environment, resource limits and a private directory
holding a copy of the plugin; when the bot is root, every process left under the plugin's
uid is killed once the worker is gone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot import messages
from bot.config import PROBE_UIDS
from bot.plugin_host.sandbox import worker_main

log = logging.getLogger(__name__)

SDK_FILE = Path(__file__).resolve().parents[2] / "sdk.py"
DESCRIBE_FILE = Path(__file__).resolve().parents[1] / "contract" / "describe.py"
MIN_PYTHON = (3, 10)
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl",
             "/etc/ca-certificates", "/etc/localtime", "/etc/passwd", "/etc/group")
ROOT_WORKER_BASE = Path("/run/bot-workers")  # never under /tmp: workers get their own /tmp
# Runs a configured program and, when a signal ends it, says which on stderr: a program
# killed at its memory limit often dies of SIGSEGV or SIGABRT without a word of its own.
REPORT_END = ('unset PWD; "$@"; code=$?; if [ "$code" -gt 128 ]; then '
              'echo "bot-sandbox: the program was killed by signal $((code - 128))" >&2; fi; '
              'exit "$code"')
# What a sandboxed program's environment starts from (never a copy of the bot's).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
            "TMPDIR": "/tmp"}
DEFAULT_UID_RANGE = (200_000, 265_535)
# Runs as root inside the worker's own mount namespace, then drops to the plugin's uid.
PROCESS_SETUP = ("set -e; mount -t tmpfs -o size=\"$1\",mode=1777,nosuid,nodev tmpfs /tmp; "
                 "for d in /var/tmp /dev/shm; do [ ! -d \"$d\" ] || mount --bind /tmp \"$d\"; "
                 "done; cd /tmp; shift; exec \"$@\"")


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int = 512
    cpu_seconds: int = 300
    open_files: int = 256
    file_mb: int = 16
    processes: int = 64
    tmp_mb: int = 64

    def as_rlimits(self, *, own_uid: bool) -> dict[str, int]:
        limits = {"memory_bytes": self.memory_mb * 2**20, "cpu_seconds": self.cpu_seconds,
                  "open_files": self.open_files, "file_bytes": self.file_mb * 2**20}
        if own_uid:  # RLIMIT_NPROC counts every process of the uid: only for the plugin's own
            limits["processes"] = self.processes
        return limits


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one worker process."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    workdir: Path
    uid: int | None = None  # the plugin's uid, when the bot is root
    user: int | None = None  # what the bot starts the argv as (None: as itself)
    group: int | None = None
    pass_fds: tuple[int, ...] = field(default=())


class SandboxUnavailable(Exception):
    """This worker cannot be started here (a plugin with no sandbox uid as root); the
    message says why."""


class Sandbox:
    """A sandbox known to work here (see `detect_sandbox`): builds workers' command lines,
    reaps what they leave. Constructing one runs nothing."""

    def __init__(self, *, kind: str, python: str, python_prefix: str | None,
                 limits: WorkerLimits | None = None,
                 uid_range: tuple[int, int] = DEFAULT_UID_RANGE, bwrap: str | None = None,
                 tools: dict[str, str | None] | None = None) -> None:
        self.kind = kind
        self.python, self.python_prefix = python, python_prefix
        self.limits = limits or WorkerLimits()
        self.uid_range = uid_range
        self.bwrap = bwrap
        self.tools = tools or {}
        self.root = os.geteuid() == 0
        self._probe_uids = itertools.count(os.getpid())
        self._live: collections.Counter[int] = collections.Counter()  # workers per uid
        self._uid_locks: dict[int, asyncio.Lock] = {}

    def describe(self) -> str:
        return messages.sandbox_in_force(self.kind, self.python,
                                         self.uid_range if self.root else None)

    def probe_uid(self) -> int:
        """A uid for a short-lived worker that belongs to no plugin (an install probe)."""
        return self.uid_range[1] - next(self._probe_uids) % PROBE_UIDS

    def prepare(self, *, name: str, entry: Path, network: bool, fd_in: int, fd_out: int,
                uid: int | None) -> LaunchSpec:
        """Copy the plugin into a fresh private dir and build the worker's command line."""
        uid, workdir = self._workdir(name, uid, "bot-worker")
        try:
            code = self._populate(workdir, entry)
        except BaseException:
            remove_tree(workdir)
            raise
        inner = Path("/sandbox/code") if self.kind == "bwrap" else code
        config = {"fd_in": fd_in, "fd_out": fd_out, "entry": str(inner / "plugin" / entry.name),
                  "sdk_dir": str(inner / "sdk"),
                  "limits": self.limits.as_rlimits(own_uid=uid is not None)}
        command = [self.python, "-I", "-B", str(inner / "worker_main.py"), json.dumps(config)]
        env = {**BASE_ENV, "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2"}
        if self.kind == "bwrap":
            argv = self._bwrap_argv(code, network=network) + command
            return LaunchSpec(argv=argv, env=env, cwd="/", workdir=workdir, uid=uid, user=uid,
                              group=uid, pass_fds=(fd_in, fd_out))
        assert uid is not None  # process mode is root-only
        argv = self._process_argv(uid, network=network) + command
        return LaunchSpec(argv=argv, env=env, cwd="/", workdir=workdir, uid=uid,
                          pass_fds=(fd_in, fd_out))

    def prepare_command(self, *, name: str, command: Sequence[str], network: bool,
                        uid: int | None, paths: Sequence[str] = (),
                        env: Mapping[str, str] | None = None,
                        memory_mb: int | None = None) -> LaunchSpec:
        """The command line for a program the operator configured (a stdio MCP server):
        the workers' confinement, its limits applied by `prlimit`, `paths` read-only, and
        exactly `env` over a minimal environment (`env -i`: whoever spawns it may add
        its own variables, and none of them reach it).

        Its memory is bounded by RLIMIT_DATA (`memory_mb`, else the workers' limit), not
        RLIMIT_AS: Node reserves gigabytes of address space it never touches (V8's code
        range and pointer cage), Go a large arena, and either dies at start under an
        address-space limit; the data limit counts only what it may write to."""
        env = {**BASE_ENV, **(env or {})}
        uid, workdir = self._workdir(name, uid, "bot-mcp")
        (workdir / "code").mkdir(mode=0o555)
        workdir.chmod(0o755)
        limits = self.limits.as_rlimits(own_uid=uid is not None)
        memory = memory_mb * 2**20 if memory_mb else limits["memory_bytes"]
        limited = [self.tools.get("prlimit") or "prlimit", f"--data={memory}",
                   f"--cpu={limits['cpu_seconds']}", f"--nofile={limits['open_files']}",
                   f"--fsize={limits['file_bytes']}",
                   *([f"--nproc={limits['processes']}"] if "processes" in limits else []),
                   "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
                   "/bin/sh", "-c", REPORT_END, "sh", *command]
        if self.kind == "bwrap":
            argv = self._bwrap_argv(workdir / "code", network=network)
            for path in paths:
                argv[-5:-5] = ["--ro-bind", path, path]  # before the remount and chdir
            switch = self._setpriv(uid) if uid is not None else []
            return LaunchSpec(argv=[*switch, *argv, *limited], env=env, cwd="/",
                              workdir=workdir, uid=uid)
        assert uid is not None  # process mode is root-only
        return LaunchSpec(argv=self._process_argv(uid, network=network) + limited, env=env,
                          cwd="/", workdir=workdir, uid=uid)

    def _workdir(self, name: str, uid: int | None, prefix: str) -> tuple[int | None, Path]:
        """The uid a sandboxed program of plugin `name` runs as (its own, when the bot is
        root; None otherwise) and a fresh private directory for it."""
        uid = uid if self.root else None
        if self.root and uid is None:
            raise SandboxUnavailable(f"plugin {name} has no sandbox uid assigned")
        base = ROOT_WORKER_BASE if self.root else Path(tempfile.gettempdir())
        base.mkdir(mode=0o711, exist_ok=True)
        return uid, Path(tempfile.mkdtemp(prefix=f"{prefix}-{name}-", dir=base))

    def _setpriv(self, uid: int) -> list[str]:
        return [self.tools.get("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
                "--clear-groups", "--"]

    @contextlib.asynccontextmanager
    async def launching(self, uid: int | None) -> AsyncIterator[None]:
        """Hold while starting a worker under `uid`: waits for a reap of that uid to end
        (it would kill the new worker), and counts the worker as live once started."""
        if uid is None:
            yield
            return
        async with self._uid_locks.setdefault(uid, asyncio.Lock()):
            yield
            self._live[uid] += 1

    @contextlib.asynccontextmanager
    async def stopping(self, uid: int | None) -> AsyncIterator[None]:
        """Hold while a worker under `uid` is stopped, and then — once it was the last one
        this process runs under that uid — kill every process left under it (setsid
        daemons too). The uid's lock is held from the first step: a worker of the plugin
        started meanwhile (a call right after an idle stop) waits in `launching` instead of
        starting and then being killed by this reap. The lock is free nearly always, and a
        free asyncio.Lock is taken without yielding, so nothing can launch in between."""
        if uid is None or not self.root:
            yield
            return
        async with self._uid_locks.setdefault(uid, asyncio.Lock()):
            yield
            self._live[uid] -= 1
            if self._live[uid] > 0:  # another worker of the plugin still runs (an upgrade)
                return
            del self._live[uid]
            await self._kill_all(uid)

    async def _kill_all(self, uid: int) -> None:
        for _ in range(40):  # until no live process of the uid is left
            live, zombies = _processes_of(uid)
            if not live:
                break
            with contextlib.suppress(OSError):
                proc = await asyncio.create_subprocess_exec(
                    self.tools.get("kill") or "kill", "-9", "-1", user=uid, group=uid,
                    extra_groups=[], stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"}, cwd="/")
                await proc.wait()
            await asyncio.sleep(0.05)
        else:
            log.warning("processes of sandbox uid %d survived being killed", uid)
        # Zombies wait for init to reap them and still count for RLIMIT_NPROC: when they
        # would leave the plugin's next worker under half its process limit, give init a
        # few seconds (a slow init reaps every ~2 s; a real one at once).
        for _ in range(60):
            if zombies <= self.limits.processes // 2:
                return
            await asyncio.sleep(0.05)
            zombies = _processes_of(uid)[1]

    def _populate(self, workdir: Path, entry: Path) -> Path:
        code = workdir / "code"
        (code / "sdk" / "bot").mkdir(parents=True)
        (code / "plugin").mkdir()
        shutil.copy2(worker_main.__file__, code / "worker_main.py")
        (code / "sdk" / "bot" / "__init__.py").write_text("")
        shutil.copy2(SDK_FILE, code / "sdk" / "bot" / "sdk.py")
        contract = code / "sdk" / "bot" / "plugin_host" / "contract"
        contract.mkdir(parents=True)  # as the worker imports it: bot.plugin_host.contract
        for package in (contract.parent, contract):
            (package / "__init__.py").write_text("")
        shutil.copy2(DESCRIBE_FILE, contract / "describe.py")
        if entry.is_dir():
            shutil.copytree(entry, code / "plugin" / entry.name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, code / "plugin" / entry.name, follow_symlinks=False)
        for path in [code, *code.rglob("*")]:  # readable by the worker, writable by nobody
            if not path.is_symlink():
                path.chmod(0o555 if path.is_dir() else 0o444)
        workdir.chmod(0o755)
        return code

    def _bwrap_argv(self, code: Path, *, network: bool) -> list[str]:
        argv = [self.bwrap or "bwrap", "--die-with-parent", "--unshare-all", "--unshare-user",
                "--new-session", "--cap-drop", "ALL", "--hostname", "plugin-sandbox"]
        if network:
            argv.append("--share-net")
        for path in SYSTEM_PATHS:
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        for path in ETC_FILES:
            argv += ["--ro-bind-try", path, path]
        argv += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(self.limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
                 "--tmpfs", "/var/tmp", "--tmpfs", "/dev/shm"]
        for path in self._python_paths():  # after /tmp, so a Python under /tmp still shows
            argv += ["--ro-bind", path, path]
        argv += ["--ro-bind", str(code), "/sandbox/code", "--remount-ro", "/",
                 "--disable-userns", "--chdir", "/tmp"]
        return argv

    def _python_paths(self) -> list[str]:
        """The interpreter's prefix (and a copied interpreter's own dir), unless the system
        paths already hold them: only what the worker's Python needs."""
        paths = [self.python_prefix or ""]
        if not _under(self.python, tuple(paths)):
            paths.append(os.path.dirname(self.python))
        return [p for p in dict.fromkeys(paths) if p and not _under(p, SYSTEM_PATHS)]

    def _process_argv(self, uid: int, *, network: bool) -> list[str]:
        unshare = [self.tools.get("unshare") or "unshare", "--mount", "--propagation", "private"]
        if not network:
            unshare.append("--net")  # loopback and abstract sockets of its own, nothing else
        setpriv = [self.tools.get("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
                   "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                   "--bounding-set=-all", "--"]
        return [*unshare, "--", "/bin/sh", "-c", PROCESS_SETUP, "sh",
                f"{self.limits.tmp_mb}m", *setpriv]


def plugin_uids(uid_range: tuple[int, int]) -> range:
    """The uids handed out to plugins, one each (the top of the range is for probes)."""
    return range(uid_range[0], uid_range[1] - PROBE_UIDS + 1)


def remove_tree(path: Path) -> None:
    """Remove a worker dir: its read-only directories would stop a non-root `rmtree`."""
    with contextlib.suppress(OSError):
        for item in [path, *path.rglob("*")]:
            if not item.is_symlink() and item.is_dir():
                with contextlib.suppress(OSError):
                    item.chmod(stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def _processes_of(uid: int) -> tuple[list[int], int]:
    """Live processes of `uid`, and how many zombies it has (dead, waiting for init)."""
    pids, zombies = [], 0
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if _zombie(entry):
                        zombies += 1
                    else:
                        pids.append(int(entry.name))
    return pids, zombies


def _zombie(entry: os.DirEntry[str]) -> bool:
    with open(os.path.join(entry.path, "stat"), "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)
