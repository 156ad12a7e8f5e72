"""The agent loop against the fake OpenAI server, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.agent.context import HistoryMessage
from bot.agent.events import Event, Queued, ToolFinished, ToolStarted
from bot.app import Services
from bot.plugin_host.contract.protocol import Caller
from tests.fakes.openai_server import FakeOpenAI, Scripted
from tests.helpers.slack_harness import until

Make = Callable[..., Awaitable[Services]]
call = FakeOpenAI.tool_call
CALLER = Caller(user="U123", channel="C_INCIDENT", thread_ts="1700000000.000100")


@pytest.fixture(autouse=True)
def plugins(builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text",
                            "alpha_slow": "async:import asyncio; await asyncio.sleep(0.4); "
                                          "return 'slow:' + text",
                            "alpha_hang": "async:import asyncio; await asyncio.sleep(30)",
                            "alpha_secret": "return 'token: ghp_' + 'a' * 36"})
    builtin("beta", tools={"beta_echo": "return 'beta:' + text"})


def tool_messages(fake: FakeOpenAI, index: int) -> list[dict[str, Any]]:
    return [m for m in fake.messages(index) if m["role"] == "tool"]


async def test_two_step_run(agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "pods"}, "call_1")])
    fake_openai.reply("The pods are fine.")
    result = await services.runs.ask("are the pods ok?", caller=CALLER)
    assert (result.status, result.text) == ("answered", "The pods are fine.")
    assert [t.tool for t in result.tools] == ["alpha_echo"]
    first, second = fake_openai.requests
    assert first["model"] == "gpt-4o-mini"
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][-1] == {"role": "user", "content": "are the pods ok?"}
    assert "alpha_echo" in fake_openai.tool_names(0)
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_1"
    assert tool_messages(fake_openai, 1) == [
        {"role": "tool", "tool_call_id": "call_1", "content": "alpha:pods"}]


async def test_tool_calls_are_audited_with_redacted_arguments(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "x", "password": "hunter2"})])
    fake_openai.reply("done")
    result = await services.runs.ask("q", caller=CALLER)
    rows = await services.tool_log.recent(5, run_id=result.run_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row.user, row.channel, row.thread_ts, row.tool, row.plugin, row.plugin_version,
            row.outcome) == ("U123", "C_INCIDENT", "1700000000.000100", "alpha_echo",
                             "alpha", "1.0.0", "failed")  # the handler takes no password
    assert "hunter2" not in row.arguments and '"password": "[REDACTED]"' in row.arguments


async def test_parallel_tool_calls_run_concurrently(agent_services: Make,
                                                    fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[call("alpha_slow", {"text": str(i)}, f"c{i}")
                                  for i in range(3)])
    fake_openai.reply("all three done")
    started = time.monotonic()
    result = await services.runs.ask("q", caller=CALLER)
    assert time.monotonic() - started < 1.1  # 3 x 0.4 s would be 1.2 s in series
    assert result.text == "all three done"
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages(fake_openai, 1)] == [
        ("c0", "slow:0"), ("c1", "slow:1"), ("c2", "slow:2")]


async def test_disabling_between_steps_removes_the_tool_and_refuses_calls(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha", "beta"))

    async def disable_after_first_tool(event: Event) -> None:
        if isinstance(event, ToolFinished) and event.tool == "beta_echo":
            await services.plugins.disable("alpha", actor="U_ADMIN")

    fake_openai.reply(tool_calls=[call("beta_echo", {}, "c1")])
    fake_openai.reply(tool_calls=[call("alpha_echo", {}, "c2")])
    fake_openai.reply("alpha is gone")
    result = await services.runs.ask("q", caller=CALLER, observer=disable_after_first_tool)
    assert "alpha_echo" in fake_openai.tool_names(0)
    assert "alpha_echo" not in fake_openai.tool_names(1)
    assert "beta_echo" in fake_openai.tool_names(1)
    refused = tool_messages(fake_openai, 2)[-1]
    assert refused["content"].startswith(messages.unknown_tool("alpha_echo", []))
    assert result.text == "alpha is gone"


async def test_enabling_between_runs_lists_the_new_tools(agent_services: Make,
                                                         fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply("first")
    await services.runs.ask("q1", caller=CALLER)
    await services.plugins.enable("beta", actor="U_ADMIN")
    fake_openai.reply("second")
    await services.runs.ask("q2", caller=CALLER)
    assert "beta_echo" not in fake_openai.tool_names(0)
    assert "beta_echo" in fake_openai.tool_names(1)


@pytest.mark.parametrize(("tool_call", "expected"), [
    (call("alpha_echo", "{text: oops", "c1"),
     messages.bad_json_arguments("alpha_echo", "Expecting property")[:-1]),
    (call("alpha_echo", {"text": 42}, "c1"),
     messages.invalid_arguments("alpha_echo", ["text: 42 is not of type 'string'"])),
    (call("kubectl_delete", {}, "c1"), messages.unknown_tool("kubectl_delete", [])),
])
async def test_bad_calls_go_back_to_the_model_and_the_loop_continues(
        agent_services: Make, fake_openai: FakeOpenAI, tool_call: dict[str, Any],
        expected: str) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[tool_call])
    fake_openai.reply("recovered")
    result = await services.runs.ask("q", caller=CALLER)
    assert tool_messages(fake_openai, 1)[0]["content"].startswith(expected)
    assert (result.status, result.text) == ("answered", "recovered")


async def test_tool_timeout_goes_back_as_an_error(agent_services: Make,
                                                  fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",), tool_timeout=0.3)
    fake_openai.reply(tool_calls=[call("alpha_hang", {}, "c1")])
    fake_openai.reply("it hung")
    result = await services.runs.ask("q", caller=CALLER)
    assert tool_messages(fake_openai, 1)[0]["content"] == (
        "Tool 'alpha_hang' timed out after 2 s and was stopped.")
    assert result.text == "it hung" and result.tools[0].ok is False


async def test_same_call_three_times_is_refused_with_a_note(agent_services: Make,
                                                            fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    for i in range(3):
        fake_openai.reply(tool_calls=[call("alpha_echo", {"text": "same"}, f"c{i}")])
    fake_openai.reply("ok")
    await services.runs.ask("q", caller=CALLER)
    assert tool_messages(fake_openai, 2)[-1]["content"] == "alpha:same"
    assert tool_messages(fake_openai, 3)[-1]["content"] == messages.repeated_call("alpha_echo")


async def test_max_steps_last_request_has_no_tools(agent_services: Make,
                                                   fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",), agent_max_steps=3)
    for i in range(3):
        fake_openai.reply(tool_calls=[call("alpha_echo", {"text": str(i)}, f"c{i}")])
    result = await services.runs.ask("q", caller=CALLER)
    assert len(fake_openai.requests) == 3
    assert "tools" in fake_openai.requests[1] and "tools" not in fake_openai.requests[2]
    assert result.status == "no_answer"
    assert result.text == messages.no_answer(3, [("alpha_echo", True)] * 2)
    assert "alpha_echo (ok), alpha_echo (ok)" in result.text


async def test_answer_on_the_last_step_is_used(agent_services: Make,
                                               fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",), agent_max_steps=2)
    fake_openai.reply(tool_calls=[call("alpha_echo", {}, "c0")])
    fake_openai.reply("final answer without tools")
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == ("answered", "final answer without tools")


async def test_credentials_rejected_gives_one_sentence(agent_services: Make,
                                                       fake_openai: FakeOpenAI) -> None:
    services = await agent_services(openai_api_key="sk-wrong")
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == ("model_error",
                                            messages.model_auth(fake_openai.base_url))


async def test_model_not_found_gives_one_sentence(agent_services: Make,
                                                  fake_openai: FakeOpenAI) -> None:
    services = await agent_services()
    fake_openai.fail(404)
    result = await services.runs.ask("q", caller=CALLER)
    assert result.text.startswith("The model 'gpt-4o-mini' was not found at ")


async def test_unreachable_endpoint_gives_one_sentence(agent_services: Make) -> None:
    services = await agent_services(openai_base_url="http://127.0.0.1:9/v1",
                                    openai_max_retries=0)
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == (
        "model_error", messages.model_unreachable("http://127.0.0.1:9/v1"))


async def test_rate_limit_is_retried_after_retry_after(agent_services: Make,
                                                       fake_openai: FakeOpenAI) -> None:
    services = await agent_services()
    fake_openai.fail(429, headers={"retry-after": "0.2"})
    fake_openai.reply("after the wait")
    started = time.monotonic()
    result = await services.runs.ask("q", caller=CALLER)
    assert result.text == "after the wait"
    assert time.monotonic() - started >= 0.2
    assert len(fake_openai.requests) == 2


async def test_persistent_rate_limit_and_server_errors_give_one_sentence(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(openai_max_retries=1)
    for _ in range(2):
        fake_openai.fail(429, headers={"retry-after": "0.05"})
    limited = await services.runs.ask("q", caller=CALLER)
    assert limited.text.endswith("is rate limiting us; please try again in a minute.")
    for _ in range(2):
        fake_openai.fail(500, headers={"retry-after": "0.05"})
    failed = await services.runs.ask("q", caller=CALLER)
    assert failed.text.endswith("failed (HTTP 500); please try again.")


async def test_slow_model_times_out_with_one_sentence(agent_services: Make,
                                                      fake_openai: FakeOpenAI) -> None:
    services = await agent_services(openai_timeout=0.3, openai_max_retries=0)
    fake_openai.reply("too late", delay=1.0)
    result = await services.runs.ask("q", caller=CALLER)
    assert result.text == messages.model_timeout(fake_openai.base_url, 0.3)


async def test_a_hung_model_is_given_up_at_the_deadline_retries_included(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    """OPENAI_TIMEOUT bounds the whole step: a model that never answers is given up after
    it once, not once per retry (3 × 60 s kept users waiting 3 minutes)."""
    services = await agent_services(openai_timeout=1, openai_max_retries=5)
    for _ in range(6):
        fake_openai.reply("too late", delay=10)
    started = time.monotonic()
    result = await services.runs.ask("q", caller=CALLER)
    assert time.monotonic() - started < 2.5
    assert (result.status, result.text) == (
        "model_error", messages.model_timeout(fake_openai.base_url, 1))


async def test_a_burst_of_server_errors_is_retried_within_the_deadline(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    """A few seconds of 500s and 429s (a model endpoint restarting) cost the user time, not
    the question: the retries back off and the answer comes once the endpoint does."""
    services = await agent_services(openai_timeout=30, openai_max_retries=6)
    for status in (500, 503, 429, 500):
        fake_openai.fail(status, headers={"retry-after": "0.3"})
    fake_openai.reply("the endpoint is back")
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == ("answered", "the endpoint is back")
    assert len(fake_openai.requests) == 5


async def test_failures_after_long_retries_say_how_long_they_took(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(openai_timeout=30, openai_max_retries=2)
    for _ in range(3):
        fake_openai.fail(500, headers={"retry-after": "0.6"})
    started = time.monotonic()
    result = await services.runs.ask("q", caller=CALLER)
    spent = time.monotonic() - started  # two waits of 0.6 s, and a busy machine's share
    assert result.status == "model_error"
    said = [messages.tried_for(s) for s in range(1, max(1, round(spent)) + 1)]
    assert result.text in [f"The model endpoint ({fake_openai.base_url}) failed (HTTP 500)"
                           + tail for tail in said], (result.text, spent)


async def test_history_is_context_and_trimmed_oldest_first(agent_services: Make,
                                                           fake_openai: FakeOpenAI) -> None:
    services = await agent_services(agent_context_tokens=600)
    fake_openai.reply("ok")
    history = [HistoryMessage("user", "very old " + "x" * 2000, "U1"),
               HistoryMessage("user", "is checkout down?", "U2"),
               HistoryMessage("assistant", "Looking at it.")]
    await services.runs.ask("and now?", caller=CALLER, history=history)
    sent = fake_openai.messages(0)
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "U2: is checkout down?"
    assert sent[2]["content"] == "Looking at it."


async def test_secrets_are_masked_for_model_and_user(agent_services: Make,
                                                     fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[call("alpha_secret", {}, "c1")])
    fake_openai.reply("The key is xoxb-1234567890-abcdefghij")
    result = await services.runs.ask("q", caller=CALLER)
    assert tool_messages(fake_openai, 1)[0]["content"] == "token: [REDACTED]"
    assert result.text == "The key is [REDACTED]"


async def test_system_prompt_can_be_overridden_from_a_file(
        agent_services: Make, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are the payments team's assistant.")
    services = await agent_services(agent_system_prompt_file=prompt)
    fake_openai.reply("ok")
    await services.runs.ask("q", caller=CALLER)
    assert fake_openai.messages(0)[0] == {"role": "system",
                                          "content": "You are the payments team's assistant."}


async def test_cancel_stops_tools_in_flight_and_says_what_ran(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(enabled=("alpha",), tool_timeout=20)
    fake_openai.reply(tool_calls=[call("alpha_echo", {}, "c1")])
    fake_openai.reply(tool_calls=[call("alpha_hang", {}, "c2")])
    started_hang = asyncio.Event()

    async def observer(event: Event) -> None:
        if isinstance(event, ToolStarted) and event.tool == "alpha_hang":
            started_hang.set()

    handle = services.runs.start("q", caller=CALLER, observer=observer)
    await asyncio.wait_for(started_hang.wait(), 5)
    assert services.runs.cancel(handle.run_id)
    started = time.monotonic()
    result = await handle.result()
    assert time.monotonic() - started < 1
    assert (result.status, result.text) == ("cancelled",
                                            messages.run_cancelled([("alpha_echo", True)]))


async def test_shutdown_stops_running_and_queued_runs_and_refuses_new_ones(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(agent_max_concurrent_runs=1)
    fake_openai.reply("too late", delay=5)
    running = services.runs.start("q1", caller=CALLER)
    queued = services.runs.start("q2", caller=CALLER)
    await until(lambda: fake_openai.requests)
    assert services.runs.shutdown() == 2
    results = [await running.result(), await queued.result(),
               await services.runs.ask("q3", caller=CALLER)]
    assert [r.status for r in results] == ["cancelled"] * 3
    assert [r.text for r in results[1:]] == [messages.RUN_NOT_STARTED] * 2
    assert len(fake_openai.requests) == 1


async def test_runs_over_the_cap_wait_and_learn_their_position(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(agent_max_concurrent_runs=2)
    fake_openai.default = lambda body: Scripted(body=fake_openai.completion("done"), delay=0.3)
    seen: dict[int, list[int]] = {i: [] for i in range(4)}

    def observer_for(i: int) -> Callable[[Event], Awaitable[None]]:
        async def observe(event: Event) -> None:
            if isinstance(event, Queued):
                seen[i].append(event.position)
        return observe

    handles = []
    for i in range(4):
        handles.append(services.runs.start(f"q{i}", caller=CALLER, observer=observer_for(i)))
        await asyncio.sleep(0.02)
    results = [await h.result() for h in handles]
    assert all(r.text == "done" for r in results)
    assert seen[0] == [] and seen[1] == []
    assert seen[2] == [1] and seen[3][0] == 2 and seen[3][-1] == 1


async def test_no_model_configured_answers_with_what_to_set(agent_services: Make) -> None:
    services = await agent_services(openai_base_url=None, openai_api_key=None)
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == ("not_configured", messages.llm_not_configured())


async def test_tool_results_are_json_for_structured_data(agent_services: Make,
                                                         fake_openai: FakeOpenAI,
                                                         builtin: Callable[..., Path]) -> None:
    builtin("gamma", tools={"gamma_data": "return {'pods': [text]}"})
    services = await agent_services(enabled=("gamma",))
    fake_openai.reply(tool_calls=[call("gamma_data", {"text": "p1"}, "c1")])
    fake_openai.reply("ok")
    await services.runs.ask("q", caller=CALLER)
    assert json.loads(tool_messages(fake_openai, 1)[0]["content"]) == {"pods": ["p1"]}


CONFIGURED = '''
def get_manifest():
    return {"name": "greeter", "version": "1.0.0"}

def get_tools(config):
    greeting = config.get("greeting", "hello")

    def greet(who="world"):
        return f"{greeting}, {who}"

    return [{"schema": {"name": f"greet_{config.get('lang', 'en')}",
                        "parameters": {"type": "object",
                                       "properties": {"who": {"type": "string"}}}},
             "handler": greet}]
'''


@pytest.mark.parametrize("sandbox", ["process", "bwrap"])
async def test_an_upload_whose_get_tools_takes_config_is_installed_and_called(
        agent_services: Make, fake_openai: FakeOpenAI, sandbox: str) -> None:
    """docs/plugins.md promises `def get_tools(config)`; the worker used to call it bare."""
    from tests.conftest import bwrap_usable
    from tests.helpers import zips

    if sandbox == "bwrap" and not bwrap_usable():
        pytest.fail("bubblewrap must be usable here (.ci/run installs it)")
    services = await agent_services(plugin_sandbox=sandbox, plugin_config={
        "greeter": {"greeting": "hola", "lang": "es"}})
    result = await services.installer.install(zips.package("greeter", CONFIGURED),
                                              "greeter.zip", actor="U1")
    assert (result.ok, result.tools) == (True, ("greet_es",)), result.message
    await services.plugins.enable("greeter", actor="U1")
    fake_openai.reply(tool_calls=[call("greet_es", {"who": "SRE"}, "c1")])
    fake_openai.reply("It said hola.")
    answer = await services.runs.ask("greet me", caller=CALLER)
    assert answer.text == "It said hola."
    assert tool_messages(fake_openai, 1) == [
        {"role": "tool", "tool_call_id": "c1", "content": "hola, SRE"}]


SETTABLE = CONFIGURED.replace('''"version": "1.0.0"}''',
                              '''"version": "1.0.0",
            "settings": {"lang": {"type": "string"}}}''')


async def install_greeter(services: Services, source: str = CONFIGURED) -> None:
    from tests.helpers import zips

    result = await services.installer.install(zips.package("greeter", source), "greeter.zip",
                                              actor="U1")
    assert (result.ok, result.tools) == (True, ("greet_es",)), result.message
    await services.plugins.enable("greeter", actor="U1")


async def test_a_channel_setting_never_changes_which_tools_a_worker_has(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    """The worker's tools are those the bot offers (get_tools with PLUGIN_CONFIG); a
    channel's settings reach each call as ctx.config. A fresh worker used to describe the
    plugin with the first caller's settings: in a channel with lang=fr it had only
    greet_fr, and the offered greet_es failed with KeyError."""
    from bot.commands import Actor
    from bot.plugin_host import parse_where, split_settings

    services = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"greeting": "hola", "lang": "es"}})
    await install_greeter(services, SETTABLE)
    pairs, _ = split_settings(["lang=fr"])
    changed = await services.commands.set("greeter", pairs, parse_where(["in", "C0FRANCE"]),
                                          by=Actor("U_ADMIN", admin=True))
    assert changed.ok, changed.text
    fake_openai.reply(tool_calls=[call("greet_es", {"who": "SRE"}, "c1")])
    fake_openai.reply("It said hola.")
    await services.runs.ask("greet me", caller=Caller(user="U1", channel="C0FRANCE"))
    assert tool_messages(fake_openai, 1) == [
        {"role": "tool", "tool_call_id": "c1", "content": "hola, SRE"}]


async def test_a_changed_plugin_config_offers_the_tools_get_tools_returns_with_it(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    """Installed with lang=es (greet_es); restarted with lang=de, the upload is described
    again at start and offers greet_de, which the model is given and which works; the
    version row keeps the new description, so the next start with lang=de starts no
    worker to describe it. It used to stay at greet_es, failing at every call."""
    first = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"lang": "es"}})
    await install_greeter(first)
    await first.close()
    later = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"greeting": "hallo", "lang": "de"}})
    assert [t.name for t in (await later.plugins.info("greeter")).tools] == ["greet_de"]
    fake_openai.reply(tool_calls=[call("greet_de", {"who": "SRE"}, "c1")])
    fake_openai.reply("It said hallo.")
    await later.runs.ask("greet me", caller=CALLER)
    offered = [t["function"]["name"] for t in fake_openai.requests[-2]["tools"]]
    assert "greet_de" in offered and "greet_es" not in offered, offered
    assert tool_messages(fake_openai, 1) == [
        {"role": "tool", "tool_call_id": "c1", "content": "hallo, SRE"}]
    await later.close()
    again = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"greeting": "hallo", "lang": "de"}})
    running = again.plugins.running("greeter")
    assert running is not None and [t.name for t in running.plugin.tools] == ["greet_de"]
    assert not running.host.running  # nothing described it again: no worker yet
    assert (await again.registry.call("greet_de", {"who": "ops"})).text == "hallo, ops"


STRICT = CONFIGURED.replace(
    '    greeting = config.get("greeting", "hello")\n',
    '    greeting = config.get("greeting", "hello")\n'
    '    if config.get("lang") == "xx":\n'
    '        raise ValueError("no such language: xx")\n')


async def test_a_plugin_config_its_get_tools_refuses_is_one_sentence_and_loses_nothing(
        agent_services: Make) -> None:
    """Restarted with a PLUGIN_CONFIG entry its get_tools raises on, the upload does not
    load here, says why in one line, and is still installed and on: with the entry fixed,
    the next start offers it again."""
    assert STRICT != CONFIGURED
    first = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"lang": "es"}})
    await install_greeter(first, STRICT)
    await first.close()
    broken = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"lang": "xx"}})
    info = await broken.plugins.info("greeter")
    assert broken.plugins.running("greeter") is None
    assert info.enabled and info.status == "error", info
    assert "no such language: xx" in (info.error or ""), info.error
    assert "\n" not in (info.error or ""), info.error
    await broken.close()
    fixed = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"lang": "es"}})
    assert (await fixed.registry.call("greet_es", {"who": "SRE"})).text == "hello, SRE"


async def test_a_call_of_a_tool_the_worker_no_longer_describes_is_one_sentence(
        agent_services: Make) -> None:
    """Should a worker's get_tools(config) ever leave out a tool the bot offers (a plugin
    whose tools depend on more than its settings), the call is one sentence saying so,
    not a KeyError from inside the worker."""
    from bot.plugin_host.contract.protocol import ToolSpec
    from bot.sdk import ToolContext, ToolError

    services = await agent_services(plugin_sandbox="process", plugin_config={
        "greeter": {"lang": "es"}})
    await install_greeter(services)
    running = services.plugins.running("greeter")
    assert running is not None
    ghost = ToolSpec.from_description(running.plugin.tools[0].describe() | {"name": "greet_fr"})
    with pytest.raises(ToolError) as refused:
        await running.host.invoke(ghost, {"who": "SRE"}, ToolContext(plugin="greeter"))
    assert str(refused.value) == messages.tool_no_longer_offered("greeter", "greet_fr")


async def test_more_tools_than_one_request_carries_is_one_sentence_not_a_refused_request(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    """Plugins enabled before the limit was checked (or an MCP server's grown list) can
    still offer more than 128 tools: the run says so instead of sending what OpenAI
    refuses for every question."""
    builtin("big", tools={f"big_{i}": "return 'x'" for i in range(70)})
    builtin("huge", tools={f"huge_{i}": "return 'x'" for i in range(70)})
    services = await agent_services(enabled=("big", "huge"))
    assert len(services.registry.snapshot) == 140  # start-up does not refuse what is stored
    result = await services.runs.ask("q", caller=CALLER)
    assert (result.status, result.text) == (
        "not_configured", messages.too_many_tools_offered(140, 128))
    assert fake_openai.requests == []  # nothing the API would refuse was sent
    await services.plugins.disable("huge", actor="U_ADMIN")
    fake_openai.reply("fine")
    assert (await services.runs.ask("q", caller=CALLER)).text == "fine"
