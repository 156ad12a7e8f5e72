"""LOG_FORMAT=json on `bot run`: every line one JSON object, and the lines written during
a run (a builtin tool's own log line included) carry its run id, channel, thread, user,
and inside the tool call its tool and plugin."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import (
    BotProcesses,
    mention_body,
    post_event,
    run_bot,
    stop,
)

CHATTY = """
import logging

def shout(text='x'):
    logging.getLogger('plugin.chatty').warning(
        'looking at %s with token xoxb-1234567890-abcdefghij', text)
    return 'heard ' + text

def get_manifest():
    return {'name': 'chatty', 'version': '1.0.0'}

def get_tools():
    return [{'schema': {'name': 'shout', 'parameters': {'type': 'object', 'properties':
             {'text': {'type': 'string'}}}}, 'handler': shout}]
"""


def test_json_lines_carry_the_run_and_the_tool(bot_process: BotProcesses, plugins_dir: Path,
                                               fake_slack: FakeSlack, fake_openai: FakeOpenAI,
                                               tmp_path: Path) -> None:
    write_plugin(plugins_dir / "builtins", "chatty", CHATTY)
    env = bot_process.env(LOG_FORMAT="json")
    port = int(env["PORT"])
    enabled = run_bot(env, "plugin", "enable", "chatty")
    assert enabled.returncode == 0, enabled.stderr
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("shout", {"text": "pods"}, "c1")])
    fake_openai.reply("They are fine.")
    log_path = tmp_path / "bot.log"
    proc = bot_process.start(env, log=log_path)
    try:
        assert post_event(port, mention_body("EvJSON1")).status == 200
        fake_slack.wait_for(lambda: "They are fine." in fake_slack.posted_texts("C1"))
    finally:
        assert stop(proc) == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys()
                         for line in lines)
    shouted = next(line for line in lines if line["logger"] == "plugin.chatty")
    assert shouted["message"].startswith("looking at pods with token ")
    assert "xoxb-1234567890" not in shouted["message"]  # masked, as in text logs
    assert (shouted["tool"], shouted["plugin"], shouted["channel"], shouted["user"],
            shouted["thread"]) == ("shout", "chatty", "C1", "U1", "1700000000.000100")
    assert len(shouted["run_id"]) == 12
    called = [line for line in lines if line["message"].startswith("tool call shout: ")]
    assert len(called) == 1 and called[0]["message"].startswith("tool call shout: ok in ")
    assert {k: called[0][k] for k in ("run_id", "channel", "thread", "user", "plugin",
                                      "tool")} == {
        "run_id": shouted["run_id"], "channel": "C1", "thread": "1700000000.000100",
        "user": "U1", "plugin": "chatty", "tool": "shout"}
    assert "pods" not in called[0]["message"]  # no arguments in it
    assert "tool" not in next(line for line in lines if "signed in to Slack" in line["message"])
