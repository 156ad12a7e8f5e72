"""`bot doctor` as a black box: all green against the fakes, then each check failing on its
own, with its line and exit code 1. Nothing it checks is changed by checking."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest

from bot import messages
from tests.conftest import REPO, subprocess_env
from tests.fakes.k8s_server import FakeKubernetes
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import BOT_TOKEN, FakeSlack
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import run_bot


def doctor(env: dict[str, str]) -> tuple[int, dict[str, str]]:
    result = run_bot(env, "doctor", timeout=120)
    lines = {}
    for line in result.stdout.splitlines():
        mark, rest = line.split(" ", 1)
        name, detail = rest.split(": ", 1)
        lines[name] = f"{mark} {detail}"
    return result.returncode, lines


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def green(tmp_path: Path, plugins_dir: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI,
          cluster: FakeKubernetes) -> dict[str, str]:
    write_plugin(plugins_dir / "builtins", "alpha")
    env = subprocess_env(tmp_path, plugins_dir, PLUGIN_SANDBOX="process",
                         SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake_slack.api_url,
                         OPENAI_BASE_URL=fake_openai.base_url,
                         OPENAI_API_KEY=fake_openai.api_key,
                         KUBECONFIG=str(cluster.kubeconfig(tmp_path / "kubeconfig")))
    migrated = run_bot(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return env


def test_all_green(green: dict[str, str], tmp_path: Path, plugins_dir: Path) -> None:
    code, lines = doctor(green)
    assert code == 0, lines
    assert list(lines) == ["settings", "database", "plugins", "sandbox", "slack", "model",
                           "cluster", "mcp"]
    assert lines.pop("mcp") == "- " + messages.doctor_no_mcp_servers()
    assert all(line.startswith("✓") for line in lines.values()), lines
    assert str(tmp_path / "bot.db") in lines["database"]
    assert "builtins alpha" in lines["plugins"]
    assert "doctor_probe_ping" in lines["sandbox"]
    assert "signs in as" in lines["slack"] and "Kubernetes v1." in lines["cluster"]
    assert not (plugins_dir / "user_uploads" / ".owner.json").exists()


def test_a_console_bot_skips_what_is_not_set(tmp_path: Path, plugins_dir: Path) -> None:
    write_plugin(plugins_dir / "builtins", "alpha")
    env = subprocess_env(tmp_path, plugins_dir, fresh=True, PLUGIN_SANDBOX="process",
                         HOME=str(tmp_path))  # no ~/.kube/config
    code, lines = doctor(env)
    assert code == 1  # no database yet
    assert lines["database"] == "✗ " + messages.doctor_no_database(tmp_path / "bot.db")
    assert not (tmp_path / "bot.db").exists()  # looking created nothing
    for name, setting in (("slack", "SLACK_BOT_TOKEN"),
                          ("model", "OPENAI_API_KEY or OPENAI_BASE_URL"),
                          ("cluster", "KUBECONFIG")):
        assert lines[name] == "- " + messages.doctor_skipped(setting)


@pytest.mark.parametrize(("change", "failing", "says"), [
    ({"PORT": "http"}, "settings", "PORT"),
    ({"PLUGIN_PYTHON": "/no/such/python"}, "sandbox", "uploaded plugins are disabled"),
    ({"SLACK_BOT_TOKEN": "xoxb-wrong"}, "slack", "Slack rejected SLACK_BOT_TOKEN"),
    ({"OPENAI_API_KEY": "sk-wrong"}, "model", "answered HTTP 401: check OPENAI_API_KEY"),
    ({"OPENAI_MODEL": "no-such-model"}, "model", "does not serve no-such-model"),
    ({"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}, "model", "unreachable"),
])
def test_each_check_fails_on_its_own(green: dict[str, str], change: dict[str, str],
                                     failing: str, says: str) -> None:
    code, lines = doctor(green | change)
    assert code == 1
    assert lines[failing].startswith("✗") and says in lines[failing], lines[failing]
    others = [name for name, line in lines.items() if line.startswith("✗")]
    assert others == [failing], lines


def test_the_cluster_and_the_plugins_dir_failing(green: dict[str, str], tmp_path: Path,
                                                 cluster: FakeKubernetes) -> None:
    cluster.stop()
    code, lines = doctor(green | {"PLUGINS_DIR": str(tmp_path / "empty")})
    assert code == 1
    assert lines["cluster"].startswith("✗ The Kubernetes API server at ")
    assert lines["plugins"] == "✗ " + messages.doctor_no_builtins(tmp_path / "empty")


def test_pending_migrations_and_a_corrupt_file(green: dict[str, str], tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "bot.db")
    connection.execute("UPDATE alembic_version SET version_num = '0005'")
    connection.commit()
    connection.close()
    code, lines = doctor(green)
    assert code == 1
    newest = max(p.name[:4] for p in (REPO / "migrations" / "versions").glob("0*.py"))
    assert f"is at schema 0005, this code needs {newest}" in lines["database"]
    (tmp_path / "bot.db").write_bytes(b"not a database at all" * 100)
    assert "the file is not an SQLite database" in doctor(green)[1]["database"]


def test_each_mcp_server_is_connected_to_and_its_tools_listed(
        green: dict[str, str], sandbox_mode: str) -> None:
    """A local Node server started in the sandbox answers; one whose program is missing is
    a ✗ saying what to do; the doctor exits 1 for it."""
    if sandbox_mode != "bwrap":
        pytest.skip("a local MCP server is the operator's program: tested under bubblewrap")
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("Node must be installed in CI (.ci/run installs nodejs)")
        pytest.skip("Node is not installed (apt-get install nodejs)")
    server = REPO / "tests" / "fakes" / "mcp_stdio_server.js"
    env = green | {"PLUGIN_SANDBOX": "bwrap", "MCP_SERVERS": json.dumps({
        "nodeprobe": {"command": [os.path.realpath(node), str(server)],
                      "paths": [str(server.parent)]},
        "ghost": {"command": ["/opt/nowhere/mcp-ghost"]}})}
    code, lines = doctor(env)
    assert code == 1, lines
    assert lines["mcp nodeprobe"] == "✓ " + messages.doctor_mcp_ok(
        "nodeprobe (MCP_SERVERS)", ["node_hold"])
    assert lines["mcp ghost"].startswith("✗ the MCP server ghost (MCP_SERVERS) could not be "
                                         "reached: its program '/opt/nowhere/mcp-ghost' was "
                                         "not found in the sandbox"), lines["mcp ghost"]
