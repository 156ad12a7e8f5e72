"""Two replicas on one database, as behind Slack's HTTP endpoint: a thread's runs keep
their order, Stop works from either, and a run lost with its replica is reported once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot import messages
from bot.store.models import ProcessedEvent, ReplicaRow, SlackRunRow, utcnow
from tests.fakes.openai_server import Scripted
from tests.helpers.slack_harness import SlackBot, until

Make = Callable[..., Awaitable[SlackBot]]




async def test_stop_clicked_on_the_other_replica_stops_the_run(slack_bot: Make) -> None:
    a, b = await slack_bot(), await slack_bot()
    a.ai.reply("too late", delay=10)
    ts, _ = await a.mention("a long question", user="U_ASKER")
    run_id = await until(a.stop_button)
    await until(lambda: a.ai.requests)
    _, stranger = await b.click("stop_run", run_id, user="U_STRANGER")
    await until(lambda: b.responses(stranger))
    assert b.responses(stranger)[0]["text"] == messages.RUN_STOP_NOT_ALLOWED
    started = time.monotonic()
    _, asker = await b.click("stop_run", run_id, user="U_ASKER")
    await until(lambda: a.answers(ts), 5)
    assert time.monotonic() - started < 3
    assert a.answers(ts) == [messages.run_cancelled([])]
    assert a.answers(ts)[0].endswith("no tools ran.")
    assert b.responses(asker) == []
    for _ in range(100):  # the row closes just after the answer is posted
        found = await b.endpoint.shared.find(run_id)
        if found is not None and found.state == "done":
            break
        await asyncio.sleep(0.02)
    _, late = await b.click("stop_run", run_id, user="U_ASKER")
    await until(lambda: b.responses(late))
    assert b.responses(late)[0]["text"] == messages.RUN_FINISHED


async def test_a_thread_keeps_its_order_across_replicas(slack_bot: Make) -> None:
    a, b = await slack_bot(), await slack_bot()
    asked: dict[str, float] = {}

    def model(body: dict[str, Any]) -> Scripted:
        question = body["messages"][-1]["content"]
        asked[question] = time.monotonic()
        return Scripted(body=a.ai.completion(f"answer to {question}"),
                        delay=1.0 if question == "first" else 0)
    a.ai.default = model
    ts, _ = await a.mention("first")
    await until(lambda: "first" in asked)
    await b.mention("second", thread_ts=ts)
    await until(lambda: len(a.answers(ts)) == 2, 10)
    assert a.answers(ts) == ["answer to first", "answer to second"]
    assert asked["second"] - asked["first"] >= 1.0


async def test_a_run_lost_with_its_replica_is_reported_once(slack_bot: Make) -> None:
    a, b = await slack_bot(), await slack_bot()
    long_ago = utcnow() - timedelta(minutes=5)
    async with a.services.db.write() as session:  # what a replica killed mid-answer leaves
        session.add(ReplicaRow(id="dead:1:x", started_at=long_ago, heartbeat_at=long_ago))
        session.add(SlackRunRow(channel="C_INC", thread_ts="1700000000.000001",
                                mention_ts="1700000000.000001", asker="U1",
                                replica="dead:1:x", state="running", run_id="lostrun",
                                status_ts="1700000000.000002", beat_at=long_ago))
        session.add(SlackRunRow(channel="C_INC", thread_ts="1700000000.000003",
                                mention_ts="1700000000.000004", asker="U2",
                                replica="dead:1:x", state="waiting", beat_at=long_ago))
    await until(lambda: a.answers("1700000000.000001") and a.answers("1700000000.000003"))
    seen = a.endpoint.shared.passes, b.endpoint.shared.passes
    await until(lambda: a.endpoint.shared.passes >= seen[0] + 2
                and b.endpoint.shared.passes >= seen[1] + 2, 10)  # both looked again, twice
    assert a.answers("1700000000.000001") == [messages.run_interrupted([])]
    assert a.answers("1700000000.000003") == [messages.run_not_started()]
    updates = [c for c in a.slack.calls_to("chat.update") if c["ts"] == "1700000000.000002"]
    assert [c["text"] for c in updates] == [messages.STATUS_INTERRUPTED]
    _, click = await b.click("stop_run", "lostrun", user="U1")
    await until(lambda: b.responses(click))
    assert b.responses(click)[0]["text"] == messages.RUN_FINISHED


async def test_prune_forgets_only_what_is_old(slack_bot: Make) -> None:
    bot = await slack_bot()
    old, fresh = utcnow() - timedelta(days=10), utcnow()
    async with bot.services.db.write() as session:
        session.add_all([ProcessedEvent(key="event:old", at=old),
                         ProcessedEvent(key="event:new", at=fresh),
                         ReplicaRow(id="gone", started_at=old, heartbeat_at=old),
                         SlackRunRow(channel="C", thread_ts="1", mention_ts="1", asker=None,
                                     replica="gone", state="done", finished_at=old),
                         SlackRunRow(channel="C", thread_ts="2", mention_ts="2", asker=None,
                                     replica="gone", state="done", finished_at=fresh)])
    await bot.endpoint.shared.prune()
    async with bot.services.db.read() as session:
        events = (await session.execute(select(ProcessedEvent.key))).scalars().all()
        runs = (await session.execute(select(SlackRunRow.thread_ts))).scalars().all()
        replicas = await session.scalar(select(func.count()).select_from(ReplicaRow).where(
            ReplicaRow.id == "gone"))
    assert (events, runs, replicas) == (["event:new"], ["2"], 0)


async def test_a_429_on_one_replica_holds_that_method_on_the_other(slack_bot: Make) -> None:
    """Slack limits a method per workspace: Retry-After answered to replica A holds the
    method's optional calls on replica B too (through the database), and only that method."""
    a, b = await slack_bot(), await slack_bot()
    held = b.endpoint.budgets.methods["chat.update"]
    assert held.available("T0TEST") > 0
    a.slack.rate_limit("chat.update", times=1, retry_after=5)
    edit = asyncio.create_task(  # it waits out the Retry-After, then goes
        a.endpoint.ctx.client.chat_update(channel="C1", ts="1.2", text="edited"))
    await until(lambda: held.available("T0TEST") < 0, 4)  # heard within a poll
    assert not b.endpoint.budgets.take("chat.update", "T0TEST")
    assert b.endpoint.budgets.take("chat.appendStream", "T0TEST")  # another method's is free
    assert 0 < (await b.endpoint.holds.current())["chat.update"] <= 5.25
    assert (await edit)["ok"]
    await until(lambda: held.available("T0TEST") > 0, 5)  # over when Slack said

