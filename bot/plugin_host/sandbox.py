"""How uploaded-plugin workers are confined: bubblewrap when available, else a plain process.

Either way a worker gets a stripped environment, resource limits, its own private directory
holding a copy of the plugin (so the bot's own directories can stay private), and — when
the bot runs as root — an unprivileged user. Under bubblewrap it also gets a read-only view
of the system, a private /tmp, its own PID namespace and /proc, and no network unless the
plugin's manifest asks for the `network` permission.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bot.plugin_host import worker_main

log = logging.getLogger(__name__)

SDK_FILE = Path(__file__).resolve().parents[1] / "sdk.py"
MIN_PYTHON = (3, 10)
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl",
             "/etc/ca-certificates", "/etc/localtime", "/etc/passwd", "/etc/group")


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int = 512
    cpu_seconds: int = 300
    open_files: int = 256
    file_mb: int = 16
    processes: int = 64

    def as_rlimits(self, *, dropped: bool) -> dict[str, int]:
        limits = {"memory_bytes": self.memory_mb * 2**20, "cpu_seconds": self.cpu_seconds,
                  "open_files": self.open_files, "file_bytes": self.file_mb * 2**20}
        if dropped:  # RLIMIT_NPROC counts every process of the uid: only safe for our own
            limits["processes"] = self.processes
        return limits


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one worker process."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    workdir: Path
    user: int | None = None
    group: int | None = None
    pass_fds: tuple[int, ...] = field(default=())


class SandboxUnavailable(Exception):
    """Uploaded plugins cannot run here; the message says why and what to change."""


class Sandbox:
    def __init__(self, *, mode: str = "auto", python: str | None = None,
                 limits: WorkerLimits | None = None, user: str = "nobody") -> None:
        if mode not in ("auto", "bwrap", "process"):
            raise ValueError(f"PLUGIN_SANDBOX must be auto, bwrap or process, not {mode!r}")
        self.mode = mode
        self.limits = limits or WorkerLimits()
        self.drop = _account(user) if os.geteuid() == 0 else None
        self.problem: str | None = None
        self.python, self.python_prefix = self._choose_python(python)
        self.bwrap = shutil.which("bwrap")
        self.kind = self._choose_kind()

    def describe(self) -> str:
        if self.problem:
            return f"uploaded plugins are disabled: {self.problem}"
        user = f", as uid {self.drop[0]}" if self.drop else ""
        return f"uploaded plugins run in {self.kind} workers ({self.python}{user})"

    def check(self) -> None:
        if self.problem:
            raise SandboxUnavailable(self.problem)

    def prepare(self, *, name: str, entry: Path, network: bool,
                fd_in: int, fd_out: int) -> LaunchSpec:
        """Copy the plugin into a fresh private dir and build the worker's command line."""
        self.check()
        workdir = Path(tempfile.mkdtemp(prefix=f"bot-worker-{name}-"))
        try:
            code, tmp = self._populate(workdir, entry)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        inner_code = Path("/sandbox/code") if self.kind == "bwrap" else code
        inner_tmp = "/tmp" if self.kind == "bwrap" else str(tmp)
        config = {"fd_in": fd_in, "fd_out": fd_out, "entry": str(inner_code / "plugin" /
                                                                  entry.name),
                  "sdk_dir": str(inner_code / "sdk"),
                  "limits": self.limits.as_rlimits(dropped=self.drop is not None)}
        command = [self.python, "-I", "-B", str(inner_code / "worker_main.py"),
                   json.dumps(config)]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": inner_tmp,
               "TMPDIR": inner_tmp, "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2"}
        if self.kind == "bwrap":
            command = self._bwrap_argv(code, network=network, fds=(fd_in, fd_out)) + command
        return LaunchSpec(argv=command, env=env, cwd=str(tmp), workdir=workdir,
                          user=self.drop[0] if self.drop else None,
                          group=self.drop[1] if self.drop else None, pass_fds=(fd_in, fd_out))

    def _populate(self, workdir: Path, entry: Path) -> tuple[Path, Path]:
        code, tmp = workdir / "code", workdir / "tmp"
        (code / "sdk" / "bot").mkdir(parents=True)
        (code / "plugin").mkdir()
        tmp.mkdir()
        shutil.copy2(worker_main.__file__, code / "worker_main.py")
        (code / "sdk" / "bot" / "__init__.py").write_text("")
        shutil.copy2(SDK_FILE, code / "sdk" / "bot" / "sdk.py")
        if entry.is_dir():
            shutil.copytree(entry, code / "plugin" / entry.name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, code / "plugin" / entry.name)
        for path in [code, *code.rglob("*")]:  # readable by the worker, writable by nobody
            path.chmod(0o555 if path.is_dir() else 0o444)
        workdir.chmod(0o755)
        if self.drop:
            os.chown(tmp, *self.drop)
        tmp.chmod(0o700)
        return code, tmp

    def _bwrap_argv(self, code: Path, *, network: bool, fds: tuple[int, int]) -> list[str]:
        argv = [self.bwrap or "bwrap", "--die-with-parent", "--unshare-all", "--new-session",
                "--cap-drop", "ALL", "--hostname", "plugin-sandbox"]
        if network:
            argv.append("--share-net")
        for path in SYSTEM_PATHS:
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        for path in ETC_FILES:
            argv += ["--ro-bind-try", path, path]
        if self.python_prefix and not self.python_prefix.startswith("/usr/"):
            argv += ["--ro-bind", self.python_prefix, self.python_prefix]
        argv += ["--ro-bind", str(code), "/sandbox/code", "--proc", "/proc", "--dev", "/dev",
                 "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp"]
        return argv

    def _choose_python(self, configured: str | None) -> tuple[str, str | None]:
        candidates = [configured] if configured else [sys.executable, "/usr/bin/python3",
                                                      "/usr/local/bin/python3"]
        failures = []
        for candidate in candidates:
            prefix, why = _probe_python(candidate, self.drop)
            if prefix is not None:
                return candidate, prefix
            failures.append(f"{candidate}: {why}")
        who = f"user '{pwd.getpwuid(self.drop[0]).pw_name}'" if self.drop else "this user"
        self.problem = (f"no Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ interpreter that {who} "
                        f"can run ({'; '.join(failures)}); set PLUGIN_PYTHON")
        return candidates[0], None

    def _choose_kind(self) -> str:
        if self.problem:
            return "none"
        if self.mode == "process":
            return "process"
        if self.bwrap and _bwrap_works(self.bwrap, self.drop):
            return "bwrap"
        if self.mode == "bwrap":
            self.problem = ("PLUGIN_SANDBOX=bwrap but bubblewrap is "
                            + ("not installed (apt-get install bubblewrap)" if not self.bwrap
                               else "not usable here (user namespaces disabled?)"))
            return "none"
        return "process"


def _account(user: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SandboxUnavailable(f"the sandbox user '{user}' does not exist") from None
    return entry.pw_uid, entry.pw_gid


def _run_as(drop: tuple[int, int] | None) -> dict[str, object]:
    if drop is None:
        return {}
    return {"user": drop[0], "group": drop[1], "extra_groups": []}


def _probe_python(python: str, drop: tuple[int, int] | None) -> tuple[str | None, str]:
    code = "import sys; print(sys.version_info[0], sys.version_info[1], sys.base_prefix)"
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                             timeout=10, env={"PATH": "/usr/bin:/bin"}, cwd="/",
                             **_run_as(drop))  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        return None, type(exc).__name__ + (f" ({exc.strerror})" if isinstance(exc, OSError)
                                           else "")
    if out.returncode != 0:
        return None, f"exit code {out.returncode}"
    major, minor, prefix = out.stdout.split(maxsplit=2)
    if (int(major), int(minor)) < MIN_PYTHON:
        return None, f"Python {major}.{minor} is too old"
    return prefix.strip(), "ok"


def _bwrap_works(bwrap: str, drop: tuple[int, int] | None) -> bool:
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc",
            "/proc", "--dev", "/dev", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10, cwd="/",
                                **_run_as(drop))  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError):
        return False
    if result.returncode != 0:
        log.warning("bubblewrap is installed but failed: %s", result.stderr.decode()[:200])
    return result.returncode == 0
