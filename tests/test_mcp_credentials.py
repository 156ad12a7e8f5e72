"""An MCP server's header values: sealed with BOT_SECRET_KEY in the database, sent to the
server and nowhere else — not the audit trail, `info`, Slack, the logs or the terminal;
`mcp add` with headers and no key is refused in one line. Through Slack, the CLI and the
console (real subprocesses), against a real MCP server that wants a bearer token."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot import messages
from bot.app import Services
from bot.config import load_settings
from bot.errors import ConfigError
from bot.plugin_host.mcp.credentials import new_key
from tests.conftest import subprocess_env
from tests.fakes.mcp_server import McpTestServer
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.processes import run_bot
from tests.helpers.slack_admin import command
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]
TOKEN = "mcp-tok-9f8e7d6c5b4a39281706"  # what must never show
KEY = new_key()


@pytest.fixture
def guarded() -> Iterator[McpTestServer]:
    server = McpTestServer(token=TOKEN).start()
    yield server
    server.stop()


def stored_bytes(tmp_path: Path) -> bytes:
    """Everything the SQLite database holds on disk (main file and write-ahead log)."""
    return b"".join(path.read_bytes() for path in tmp_path.glob("bot.db*"))


async def test_header_values_are_sealed_in_the_database_and_absent_from_every_output(
        slack_bot: Make, guarded: McpTestServer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await slack_bot(bot_secret_key=KEY)
    added = await command(bot, f"mcp add incident {guarded.url} header Authorization=Bearer "
                          f"{TOKEN} header X-Team=payments on-call", "U_ADMIN")
    assert added.startswith(f"Added MCP server incident at {guarded.url} (incident-tools")
    await command(bot, "enable incident", "U_ADMIN")
    bot.ai.reply(tool_calls=[FakeOpenAI.tool_call("pod_status", {"namespace": "prod"}, "c1")])
    bot.ai.reply("Running.")
    ts, _ = await bot.mention("pods in prod?")
    await until(lambda: [a for a in bot.answers(ts) if a == "Running."])
    assert guarded.calls == [("pod_status", {"namespace": "prod"})]
    assert all(h["authorization"] == f"Bearer {TOKEN}" and h["x-team"] == "payments on-call"
               for h in guarded.seen_headers)
    info = await command(bot, "info incident", "U_ADMIN")
    assert "Headers:     Authorization, X-Team (values stored encrypted, never shown)" in info
    audit = await command(bot, "audit 20", "U_ADMIN")

    row = sqlite3.connect(tmp_path / "bot.db").execute(
        "SELECT header_names, sealed_headers FROM mcp_servers").fetchone()
    assert json.loads(row[0]) == ["Authorization", "X-Team"]
    assert json.loads(Fernet(KEY).decrypt(row[1].encode())) == {
        "Authorization": f"Bearer {TOKEN}", "X-Team": "payments on-call"}
    assert TOKEN.encode() not in stored_bytes(tmp_path)  # no table, no audit entry, no WAL
    assert b"payments on-call" not in stored_bytes(tmp_path)
    slack_saw = json.dumps([bot.slack.calls, bot.slack.responses], default=str)
    for output in (added, info, audit, slack_saw, caplog.text):
        assert TOKEN not in output and "payments on-call" not in output


async def test_headers_without_a_key_are_refused_and_a_wrong_token_is_said_plainly(
        slack_bot: Make, guarded: McpTestServer) -> None:
    bot = await slack_bot()
    text = await command(bot, f"mcp add incident {guarded.url} header Authorization=Bearer "
                         f"{TOKEN}", "U_ADMIN")
    assert text == messages.secret_key_needed()
    assert guarded.seen_headers == [] and await bot.services.plugins.list() == []
    keyed = await slack_bot(bot_secret_key=KEY)
    text = await command(keyed, f"mcp add incident {guarded.url} header Authorization=Bearer "
                         "wrong", "U_ADMIN")
    assert text.startswith(f"Added MCP server incident at {guarded.url}, but could not reach "
                           f"it: the MCP server 127.0.0.1:{guarded.port} could not be "
                           f"reached: {messages.mcp_http_status(401)}")
    assert any(h.get("authorization") == "Bearer wrong" for h in guarded.seen_headers)
    assert "Bearer wrong" not in text  # the header went to the server, and nowhere else


async def test_another_key_cannot_open_them_and_a_rotated_one_can(
        agent_services: Callable[..., Awaitable[Services]], guarded: McpTestServer) -> None:
    first = await agent_services(bot_secret_key=KEY)
    await first.mcp.add("incident", guarded.url, {"Authorization": f"Bearer {TOKEN}"},
                        actor="ops")
    other = new_key()
    stranger = await agent_services(bot_secret_key=other)
    with pytest.raises(Exception) as refused:
        await stranger.plugins.enable("incident", actor="ops")
    assert messages.secret_key_cannot_open() in str(refused.value)
    assert TOKEN not in str(refused.value)
    rotated = await agent_services(bot_secret_key=f"{other},{KEY}")
    assert (await rotated.plugins.enable("incident", actor="ops")).changed
    result = await rotated.registry.call("pod_status", {"namespace": "x"})
    assert result.ok, result.text


def test_a_malformed_key_is_one_line_at_start() -> None:
    with pytest.raises(ConfigError) as bad:
        load_settings(bot_secret_key="not-a-key")
    assert messages.secret_key_malformed() in str(bad.value)


def test_the_cli_adds_with_headers_only_with_a_key_and_never_prints_them(
        tmp_path: Path, plugins_dir: Path, guarded: McpTestServer) -> None:
    env = subprocess_env(tmp_path, plugins_dir)
    header = f"Authorization: Bearer {TOKEN}"
    refused = run_bot(env, "plugin", "mcp", "add", "incident", guarded.url, "--header", header)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == f"bot: {messages.secret_key_needed()}"
    assert guarded.seen_headers == []
    env["BOT_SECRET_KEY"] = KEY
    added = run_bot(env, "plugin", "mcp", "add", "incident", guarded.url, "--header", header)
    assert added.returncode == 0, added.stderr
    assert "Added MCP server incident" in added.stdout
    assert run_bot(env, "plugin", "enable", "incident").returncode == 0
    called = run_bot(env, "plugin", "call", "pod_status", '{"namespace": "cli"}')
    assert called.stdout.strip() == "checkout-api-7d9f 1/1 Running in cli", called.stderr
    info = run_bot(env, "plugin", "info", "incident")
    assert "Headers:     Authorization (values stored encrypted" in info.stdout
    for out in (refused, added, called, info):
        assert TOKEN not in out.stdout + out.stderr
    key = run_bot({**env, "BOT_SECRET_KEY": "broken"}, "secret-key")
    assert key.returncode == 0 and Fernet(key.stdout.strip().encode())


def test_the_console_adds_enables_and_asks(tmp_path: Path, plugins_dir: Path,
                                           guarded: McpTestServer,
                                           fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("pod_status", {"namespace": "prod"},
                                                       "c1")])
    fake_openai.reply("checkout-api is Running.")
    env = subprocess_env(tmp_path, plugins_dir, BOT_SECRET_KEY=KEY,
                         OPENAI_BASE_URL=fake_openai.base_url,
                         OPENAI_API_KEY=fake_openai.api_key)
    lines = [f"/plugin mcp add incident {guarded.url} header Authorization=Bearer {TOKEN}",
             "/plugin enable incident", "@bot is checkout-api running?", "/plugin info incident"]
    result = run_bot(env, "console", stdin="".join(f"{line}\n" for line in lines))
    assert result.returncode == 0, result.stderr
    assert "Enabled incident 2.4.1 (pod_status, restart_pod, grow, explode, soften, storm, " \
        "huge)." in result.stdout
    assert '→ pod_status {"namespace": "prod"}' in result.stdout
    assert "checkout-api is Running." in result.stdout
    assert fake_openai.messages(1)[-1]["content"] == "checkout-api-7d9f 1/1 Running in prod"
    assert TOKEN not in result.stdout + result.stderr
