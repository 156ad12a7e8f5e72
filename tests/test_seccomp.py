"""The seccomp profile shipped for pods (deploy/seccomp/chatops-bot.json), applied with
libseccomp as a container runtime applies it: bubblewrap builds the plugin sandbox under it
exactly as the bot starts one, while under the same profile without the namespace and
mount calls — what Kubernetes' RuntimeDefault refuses an unprivileged container — it
cannot; and what the profile denies is denied."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.plugin_host import Unavailable, detect_sandbox
from bot.plugin_host.sandbox.confine import LaunchSpec, Sandbox, remove_tree
from tests.conftest import REPO

PROFILE = REPO / "deploy" / "seccomp" / "chatops-bot.json"
SYSTEM_PYTHON = "/usr/bin/python3"
RUN_UNDER = REPO / "tests" / "helpers" / "seccomp_exec.py"
# what RuntimeDefault refuses a container without CAP_SYS_ADMIN, and bubblewrap needs
RUNTIME_DEFAULT_REFUSES = {"unshare", "mount", "umount2", "pivot_root"}


@pytest.fixture(scope="module")
def libseccomp() -> str:
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True)
    if found.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("python3-seccomp must be installed in CI (.ci/run installs it)")
        pytest.skip("python3-seccomp is not installed (apt-get install python3-seccomp)")
    return SYSTEM_PYTHON


@pytest.fixture
def sandbox() -> Sandbox:
    found = detect_sandbox(mode="bwrap")
    if isinstance(found, Unavailable):
        if os.environ.get("CI"):
            pytest.fail(f"bubblewrap must be usable in CI: {found.describe()}")
        pytest.skip(found.describe())
    return found


@pytest.fixture
def launch(sandbox: Sandbox) -> Iterator[LaunchSpec]:
    """The command line the bot runs a local MCP server with: bubblewrap, its limits, a
    minimal environment, under the plugin's own uid when the bot is root."""
    spec = sandbox.prepare_command(name="seccomp_probe", command=["/bin/echo", "sandboxed"],
                                   network=False,
                                   uid=sandbox.probe_uid() if sandbox.root else None)
    yield spec
    remove_tree(spec.workdir)


def run_under(python: str, profile: Path, argv: list[str], **kwargs: object
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, str(RUN_UNDER), str(profile), *argv], capture_output=True,
                          text=True, timeout=60, **kwargs)  # type: ignore[call-overload]


def test_the_profile_is_what_its_generator_writes(libseccomp: str) -> None:
    written = subprocess.run([libseccomp, str(PROFILE.with_name("generate.py"))],
                             capture_output=True, text=True, check=True).stdout
    assert json.loads(written) == json.loads(PROFILE.read_text())


def test_bubblewrap_starts_under_the_profile_and_not_under_runtime_default(
        libseccomp: str, launch: LaunchSpec, tmp_path: Path) -> None:
    allowed = run_under(libseccomp, PROFILE, launch.argv, env=launch.env, cwd=launch.cwd)
    assert (allowed.returncode, allowed.stdout) == (0, "sandboxed\n"), allowed.stderr

    profile = json.loads(PROFILE.read_text())
    names = profile["syscalls"][0]["names"]
    profile["syscalls"][0]["names"] = [n for n in names if n not in RUNTIME_DEFAULT_REFUSES]
    (tmp_path / "default.json").write_text(json.dumps(profile))
    refused = run_under(libseccomp, tmp_path / "default.json", launch.argv, env=launch.env,
                        cwd=launch.cwd)
    assert refused.returncode != 0 and refused.stdout == "", refused
    assert refused.stderr.startswith("bwrap: ") and "Operation not permitted" in refused.stderr


def test_what_the_profile_denies_is_denied(libseccomp: str) -> None:
    """PTRACE_TRACEME, which any process may ask, and a kernel keyring: EPERM."""
    keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
    probe = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
             "print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno(), "
             f"libc.syscall({keyctl}, 0, 0, 0, 0, 0), ctypes.get_errno())")
    free = subprocess.run([libseccomp, "-c", probe], capture_output=True, text=True)
    assert free.stdout.split()[:2] == ["0", "0"], free  # allowed without the profile
    denied = run_under(libseccomp, PROFILE, [libseccomp, "-c", probe])
    assert denied.stdout.split() == ["-1", "1", "-1", "1"], denied
