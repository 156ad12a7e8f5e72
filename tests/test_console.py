"""`bot console` end to end in a subprocess: admin commands, a question answered with a tool
call by the fake model, upload, and a clean exit on Ctrl-D (end of input)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import messages
from bot.plugin_host.runtime.registry import arguments_digest
from tests.conftest import subprocess_env
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.plugin_factory import GATED, write_plugin
from tests.helpers.processes import run_bot


@pytest.fixture
def env(tmp_path: Path, plugins_dir: Path) -> dict[str, str]:
    write_plugin(plugins_dir / "builtins", "alpha")
    return subprocess_env(tmp_path, plugins_dir, PLUGIN_SANDBOX="process")


def console(env: dict[str, str], lines: list[str]) -> subprocess.CompletedProcess[str]:
    return run_bot(env, "console", lines=lines)


def test_console_plugin_commands_question_and_ctrl_d(env: dict[str, str],
                                                     fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("alpha_echo", {"text": "pods"}, "c1")])
    fake_openai.reply("All pods are healthy (alpha_echo said alpha:pods).")
    env |= {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": fake_openai.api_key}
    result = console(env, ["/plugin list", "/plugin enable alpha",
                           "@bot are the pods healthy?"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "alpha  1.0.0    builtin  in-process  disabled  alpha_echo" in out
    assert "Enabled alpha 1.0.0 (alpha_echo)." in out
    assert "… thinking (step 1)" in out
    assert '→ alpha_echo {"text": "pods"}' in out
    assert "✓ alpha_echo (" in out
    assert "All pods are healthy (alpha_echo said alpha:pods)." in out
    assert out.rstrip().endswith("Bye.")
    assert fake_openai.messages(1)[-1]["content"] == "alpha:pods"


def test_console_prints_a_long_answer_as_it_streams_and_once(env: dict[str, str],
                                                             fake_openai: FakeOpenAI) -> None:
    answer = "\n".join(f"Finding {i}: pod web-{i} restarted after an OOM kill." for i in range(6))
    fake_openai.reply(answer)
    env |= {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": fake_openai.api_key}
    result = console(env, ["@bot what happened to web?"])
    assert result.returncode == 0, result.stderr
    assert fake_openai.requests[0]["stream"] is True
    for i in range(6):  # every line of the answer, each exactly once
        assert result.stdout.count(f"Finding {i}: pod web-{i} restarted") == 1
    assert answer in result.stdout


def test_console_without_a_model_still_runs_admin_commands(env: dict[str, str]) -> None:
    result = console(env, ["/plugin info alpha", "why is it down?", "/plugin nope", "exit"])
    assert result.returncode == 0
    assert "no model configured" in result.stdout
    assert "Name:        alpha" in result.stdout
    assert messages.llm_not_configured() in result.stdout
    assert messages.unknown_subcommand("nope", [], "").splitlines()[0] in result.stdout


def test_console_upload_installs_and_reports_problems(env: dict[str, str],
                                                      tmp_path: Path) -> None:
    good = write_plugin(tmp_path / "src", "uploaded")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    result = console(env, [f"upload {good}", f"upload {broken}", "/plugin versions uploaded",
                           f"upload {tmp_path / 'missing.zip'}"])
    assert messages.installed("uploaded", "1.0.0", None, enabled=False) in result.stdout
    assert (f"Refused {broken}: upload: 'broken.zip' is not a zip archive (its bytes do not "
            "start with the zip signature)") in result.stdout
    assert "*  1.0.0" in result.stdout
    assert "cannot read" in result.stdout and "missing.zip" in result.stdout


@pytest.mark.parametrize(("answer", "tool_result", "action"), [
    ("y", "restarted web", "approve"),
    ("n", "An admin (console:", "deny")])
def test_console_asks_the_operator_to_approve(env: dict[str, str], plugins_dir: Path,
                                              fake_openai: FakeOpenAI, answer: str,
                                              tool_result: str, action: str) -> None:
    write_plugin(plugins_dir / "builtins", "gated", GATED)
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("restart", {"text": "web"}, "c1")])
    fake_openai.reply("done")
    env |= {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": fake_openai.api_key}
    result = console(env, ["/plugin enable gated", "@bot restart web", answer,
                           "/plugin audit 1"])
    digest = arguments_digest({"text": "web"})[:12]
    assert (f'? restart needs approval to run with {{"text": "web"}} (fingerprint {digest}). '
            "Approve? [y/N]") in result.stdout
    assert fake_openai.messages(1)[-1]["content"].startswith(tool_result)
    audit_line = next(line for line in result.stdout.splitlines() if "  restart  " in line)
    assert audit_line.split()[3:6] == [action, "restart", "ok"]


def test_an_mcp_server_that_never_finishes_its_handshake_is_saved_with_the_reason(
        env: dict[str, str]) -> None:
    """`mcp add` of a server that accepts the connection and never answers: one sentence
    after MCP_CONNECT_TIMEOUT, the server saved anyway (as documented), and the console
    goes on — it used to end with a CancelledError traceback."""
    from tests.fakes.mcp_server import SilentServer

    silent = SilentServer().start()
    try:
        done = console(env | {"MCP_CONNECT_TIMEOUT": "1", "MCP_ALLOW_CIDRS": "127.0.0.0/8"},
                       [f"/plugin mcp add stalled {silent.url}", "/plugin list"])
    finally:
        silent.stop()
    label = f"127.0.0.1:{silent.port}"
    said = messages.mcp_added("stalled", silent.url, updated=False, server=None, tools=[],
                              error=messages.mcp_connect_timeout(label, 1), enabled=False)
    assert done.returncode == 0, done.stderr
    assert said in done.stdout
    assert "Traceback" not in done.stderr and "CancelledError" not in done.stderr
    assert "stalled" in done.stdout.split(said, 1)[1]  # listed: it was saved
