"""Which sandbox uploaded plugins get here, or why they cannot run: `detect_sandbox`.

Detection runs two short subprocesses (the interpreter and bubblewrap, as the uid workers
will use), so it happens once per process, when uploaded code is about to run. It returns
a working `Sandbox` or an `Unavailable` with the reason and the fix — never a sandbox that
is half there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from bot import messages
from bot.config import PROBE_UIDS
from bot.plugin_host.sandbox.confine import (
    DEFAULT_UID_RANGE,
    MIN_PYTHON,
    Sandbox,
    WorkerLimits,
)

MODES = ("auto", "bwrap", "process")
PROCESS_TOOLS = ("unshare", "setpriv", "kill")


@dataclass(frozen=True)
class Unavailable:
    """Uploaded plugins cannot run here; `reason` says why and what to change."""

    reason: str

    def describe(self) -> str:
        return messages.uploads_disabled(self.reason)


def detect_sandbox(*, mode: str = "auto", python: str | None = None,
                   limits: WorkerLimits | None = None,
                   uid_range: tuple[int, int] = DEFAULT_UID_RANGE) -> Sandbox | Unavailable:
    if mode not in MODES:
        raise ValueError(f"PLUGIN_SANDBOX must be auto, bwrap or process, not {mode!r}")
    root = os.geteuid() == 0
    check_uid = uid_range[1] - PROBE_UIDS + 1 if root else None  # a probe uid: no plugin's
    chosen = _choose_python(python, check_uid)
    if isinstance(chosen, Unavailable):
        return chosen
    bwrap = shutil.which("bwrap")
    tools = {name: shutil.which(name) for name in PROCESS_TOOLS}
    kind = _choose_kind(mode, root, bwrap, tools, check_uid)
    if isinstance(kind, Unavailable):
        return kind
    return Sandbox(kind=kind, python=chosen[0], python_prefix=chosen[1], limits=limits,
                   uid_range=uid_range, bwrap=bwrap, tools=tools)


def _choose_python(configured: str | None, uid: int | None
                   ) -> tuple[str, str] | Unavailable:
    own = os.path.realpath(sys.executable)  # a venv's python is a link to its base
    candidates = [configured] if configured else [own, "/usr/bin/python3",
                                                  "/usr/local/bin/python3"]
    failures = []
    for candidate in candidates:
        real = os.path.realpath(candidate)  # the sandbox sees the real file, not a link
        prefix, why = _probe_python(real, uid)
        if prefix is not None:
            return real, prefix
        failures.append(f"{candidate}: {why}")
    return Unavailable(messages.no_sandbox_python(MIN_PYTHON, uid, "; ".join(failures)))


def _choose_kind(mode: str, root: bool, bwrap: str | None, tools: dict[str, str | None],
                 uid: int | None) -> str | Unavailable:
    if mode == "process":
        missing = [name for name, path in tools.items() if path is None]
        if not root:
            return Unavailable(messages.process_sandbox_needs_root())
        if missing:
            return Unavailable(messages.process_sandbox_needs_tools(missing))
        return "process"
    if not bwrap:
        return Unavailable(messages.bwrap_missing())
    failure = _bwrap_failure(bwrap, uid)
    if failure is not None:
        return Unavailable(messages.bwrap_unusable(failure))
    return "bwrap"


def _run_as(uid: int | None) -> dict[str, object]:
    if uid is None:
        return {}
    return {"user": uid, "group": uid, "extra_groups": []}


def _probe_python(python: str, uid: int | None) -> tuple[str | None, str]:
    code = "import sys; print(sys.version_info[0], sys.version_info[1], sys.base_prefix)"
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                             timeout=10, env={"PATH": "/usr/bin:/bin"}, cwd="/",
                             **_run_as(uid))  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        return None, type(exc).__name__ + (f" ({exc.strerror})" if isinstance(exc, OSError)
                                           else "")
    if out.returncode != 0:
        return None, f"exit code {out.returncode}"
    major, minor, prefix = out.stdout.split(maxsplit=2)
    if (int(major), int(minor)) < MIN_PYTHON:
        return None, f"Python {major}.{minor} is too old"
    return prefix.strip(), "ok"


def _bwrap_failure(bwrap: str, uid: int | None) -> str | None:
    """None when bubblewrap can start a sandbox like the workers' here, else its words."""
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/",
            "/", "--proc", "/proc", "--dev", "/dev", "--size", "1048576", "--tmpfs", "/tmp",
            "--disable-userns", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10, cwd="/",
                                **_run_as(uid))  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if result.returncode == 0:
        return None
    text = result.stderr.decode(errors="replace").strip().splitlines()
    return text[-1][:200] if text else f"exit code {result.returncode}"
