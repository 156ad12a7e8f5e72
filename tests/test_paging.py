"""Large tool outputs are paged, not cut: the model sees the head and a way to read on, the
whole masked output is kept for the run (and dropped when it ends), and `read_tool_output`
pages or greps it. Token usage is recorded per run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import messages
from bot.agent.paging import TOOL
from bot.app import Services
from bot.plugin_host.contract.protocol import Caller
from bot.store.models import RunUsageRow, ToolOutputRow
from tests.fakes.openai_server import FakeOpenAI

Make = Callable[..., Awaitable[Services]]
BIG = ("lines = [f'line {i:05d}: all good, nothing to see here at all' for i in range(1300)]\n"
       "    lines[1200] = 'line 01200: ERROR volume data is full (no space left on device)'\n"
       "    lines[40] = 'line 00040: token=sk-live-abcdefghijklmnop1234'\n"
       "    return '\\n'.join(lines)")


async def kept_outputs(services: Services) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(ToolOutputRow)) or 0)


async def test_a_large_output_is_paged_and_grepped_by_the_model(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    builtin("logs", tools={"fetch_logs": BIG})
    services = await agent_services(enabled=("logs",))
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("fetch_logs", {"text": "x"}, "c1")])
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call(TOOL, {"call_id": "c1",
                                                               "grep": "error|space"}, "c2")])
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call(TOOL, {"call_id": "c1",
                                                               "offset": 60000}, "c3")])
    kept_while_running: list[int] = []

    async def observe(event: object) -> None:
        kept_while_running.append(await kept_outputs(services))

    fake_openai.reply("The data volume is full: line 1200 says no space left on device.")
    result = await services.runs.ask("why is it failing?", caller=Caller(user="U1"),
                                     observer=observe)
    assert result.ok, result.text
    first = fake_openai.messages(1)[-1]["content"]
    assert len(first) < 17_000 and first.startswith("line 00000")  # of 63,694 characters
    assert 'read_tool_output(call_id="c1", offset=16000) reads on' in first
    assert "sk-live-abcdefghijklmnop1234" not in json.dumps(fake_openai.requests)  # masked
    assert TOOL not in fake_openai.tool_names(0) and TOOL in fake_openai.tool_names(1)
    grepped = fake_openai.messages(2)[-1]["content"]
    assert grepped.startswith("1201: line 01200: ERROR volume data is full")
    assert "1 lines match 'error|space'" in grepped
    page = fake_openai.messages(3)[-1]["content"]
    assert "line 01299: all good" in page and page.endswith("the end of the output]")
    assert max(kept_while_running) == 1  # kept while the run needed it
    await services.records.flush()  # dropped as the answer is given, not before
    assert await kept_outputs(services) == 0  # and dropped with the run


async def test_read_tool_output_explains_its_mistakes(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    builtin("logs", tools={"fetch_logs": BIG})
    services = await agent_services(enabled=("logs",))
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("fetch_logs", {"text": "x"}, "c1")])
    fake_openai.reply(tool_calls=[
        FakeOpenAI.tool_call(TOOL, {"call_id": "nope"}, "c2"),
        FakeOpenAI.tool_call(TOOL, {"call_id": "c1", "grep": "(unclosed"}, "c3"),
        FakeOpenAI.tool_call(TOOL, {"call_id": "c1", "limit": "lots", "offset": -5}, "c4")])
    fake_openai.reply("done")
    result = await services.runs.ask("q", caller=Caller(user="U1"))
    assert result.ok
    answers = {m["tool_call_id"]: m["content"] for m in fake_openai.messages(2)
               if m["role"] == "tool"}
    assert answers["c2"] == messages.output_not_kept("nope", ["c1"])
    assert answers["c3"].startswith("The grep pattern '(unclosed' is not a valid regular "
                                    "expression")
    assert answers["c4"] == messages.invalid_arguments(TOOL, [
        "limit: 'lots' is not of type 'integer'", "offset: -5 is less than the minimum of 0"])


async def test_a_small_output_is_whole_and_offers_no_pager(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("alpha_echo", {"text": "hi"}, "c1")])
    fake_openai.reply("ok")
    assert (await services.runs.ask("q", caller=Caller(user="U1"))).ok
    assert fake_openai.messages(1)[-1]["content"] == "alpha:hi"
    assert TOOL not in fake_openai.tool_names(1)


async def test_each_runs_tokens_are_recorded(agent_services: Make,
                                            fake_openai: FakeOpenAI) -> None:
    services = await agent_services()
    fake_openai.reply("answer")
    result = await services.runs.ask("q", caller=Caller(user="U7", channel="C1"))
    await services.records.flush()  # written after the answer, not before it
    async with services.db.read() as session:
        row = await session.get(RunUsageRow, result.run_id)
    assert row is not None
    assert (row.user, row.channel, row.status, row.steps) == ("U7", "C1", "answered", 1)
    assert (row.prompt_tokens, row.completion_tokens) == (10, 5)  # the fake's usage


async def test_plugin_runs_shows_the_tokens_of_recent_runs(agent_services: Make,
                                                          fake_openai: FakeOpenAI) -> None:
    from bot.commands import Actor, PluginCommands, run_text

    services = await agent_services()
    commands = PluginCommands(services.plugins, services.audit, services.records)
    assert (await run_text(commands, "runs", by=Actor("U1", False))).text == (
        "No agent run has finished yet.")
    fake_openai.reply("one")
    fake_openai.reply("two")
    for _ in range(2):
        await services.runs.ask("q", caller=Caller(user="U7", channel="C1"))
    shown = (await run_text(commands, "runs 5", by=Actor("U1", False))).text
    lines = shown.splitlines()
    assert lines[0].split() == ["WHEN", "(UTC)", "RUN", "USER", "CHANNEL", "ENDED", "STEPS",
                                "PROMPT", "TOKENS", "COMPLETION", "TOKENS", "FEEDBACK"]
    assert lines[1].split()[3:] == ["U7", "C1", "answered", "1", "10", "5", "-"]
    assert lines[-1] == "30 tokens in these 2 runs."
    bad = await run_text(commands, "runs zero", by=Actor("U1", False))
    assert not bad.ok and bad.text == messages.audit_count_not_a_number("zero")


async def test_the_answer_is_not_held_back_by_its_usage_row_and_a_vote_waits_for_it(
        agent_services: Make, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """Another writer holds the database's write lock as the run ends: the answer comes
    back at once; the usage row is written once the lock goes; a vote clicked meanwhile
    waits for it instead of saying there is no such answer."""
    import asyncio
    import sqlite3

    services = await agent_services()
    blocker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the write lock, as a busy replica holds it
    try:
        fake_openai.reply("The pods are fine.")
        result = await asyncio.wait_for(
            services.runs.ask("q", caller=Caller(user="U7", channel="C1")), 10)
        assert result.text == "The pods are fine."
        vote = asyncio.create_task(services.records.vote(result.run_id, "U7", "good",
                                                         channel="C1"))
        async with services.db.read() as session:  # WAL: readers pass the writer
            assert await session.get(RunUsageRow, result.run_id) is None
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await asyncio.wait_for(vote, 10) is None  # the first vote on it
    usage = (await services.records.recent_usage(1))[0]
    assert (usage.run_id, usage.good) == (result.run_id, 1)


async def test_a_usage_row_the_database_refuses_is_one_log_line_and_the_answer_stands(
        agent_services: Make, fake_openai: FakeOpenAI, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    import sqlite3

    services = await agent_services()
    dropper = sqlite3.connect(tmp_path / "bot.db")
    dropper.execute("DROP TABLE run_feedback")
    dropper.execute("DROP TABLE run_usage")  # a write that cannot succeed
    dropper.commit()
    dropper.close()
    fake_openai.reply("The pods are fine.")
    result = await services.runs.ask("q", caller=Caller(user="U7", channel="C1"))
    assert result.text == "The pods are fine."
    await services.records.flush()
    refused = [r for r in caplog.records if "could not write its records" in r.getMessage()]
    assert len(refused) == 1 and result.run_id in refused[0].getMessage()
