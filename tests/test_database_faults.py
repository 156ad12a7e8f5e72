"""The database failing under the bot: a full disk, a read-only file system, a corrupt file.
Each is one sentence naming the file and the fault — at start (exit 2) and in Slack (the
user who asked is told) — and the bot carries on by itself once the fault clears.

The full and read-only cases need a small file system of their own: a tmpfs mounted for
the test, which needs root (skipped otherwise, with the reason). A file system cannot be
made read-only under a running bot (the kernel refuses while it has the file open for
writing), so read-only is tested at start; a running bot meets it as a failed write, which
the full-disk test covers end to end."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.slack.mentions import HOLD_SECONDS
from tests.conftest import subprocess_env
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.helpers.disks import MountRefused, checkpoint, fill, small_tmpfs
from tests.helpers.processes import BotProcesses, mention_body, post_event, run_bot, stop
from tests.helpers.slack_harness import SlackBot, logged, until

Make = Callable[..., Awaitable[SlackBot]]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for a full or read-only disk needs root")
    try:
        with small_tmpfs(tmp_path) as mount:
            yield mount
    except MountRefused as why:
        pytest.skip(f"cannot mount a tmpfs here: {why}")


def readiness(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


async def command(bot: SlackBot, text: str, user: str = "U_ADMIN") -> str:
    _, path = await bot.command(text, user=user)
    return (await until(lambda: bot.responses(path), 20))[0]["text"]


async def test_a_full_disk_is_told_in_slack_and_passes_by_itself(
        small_fs: Path, slack_bot: Make, builtin: Callable[..., Path]) -> None:
    # small_fs first: unmounted after the bot has closed (its file gone, the bot would
    # refuse to write its last rows)
    builtin("netdiag")
    db = small_fs / "bot.db"
    bot = await slack_bot(database_url=f"sqlite+aiosqlite:///{db}")
    checkpoint(db)
    filler = fill(small_fs)

    reply = await command(bot, "enable netdiag")
    fault = messages.database_fault(str(db), messages.database_error("database or disk is full"))
    assert reply == messages.change_not_saved(fault)
    assert "netdiag_echo" not in bot.services.registry.snapshot
    ts, _ = await bot.mention("why is checkout down?")
    held = messages.mention_held(fault, HOLD_SECONDS)
    assert await until(lambda: bot.answers(ts), 20) == [held]
    assert bot.ai.requests == []  # nothing is asked that is not recorded

    bot.ai.reply("The disk is full.")
    filler.unlink()  # the held question is recorded and answered, once
    await until(lambda: bot.answers(ts)[1:], 20)
    assert (await command(bot, "enable netdiag")).startswith("Enabled netdiag")
    assert bot.answers(ts) == [held, "The disk is full."] and len(bot.ai.requests) == 1
    assert "netdiag_echo" in bot.services.registry.snapshot


def test_a_read_only_database_at_start_is_one_line(tmp_path: Path, plugins_dir: Path,
                                                  small_fs: Path) -> None:
    env = subprocess_env(tmp_path, plugins_dir,
                         DATABASE_URL=f"sqlite+aiosqlite:///{small_fs / 'bot.db'}")
    assert run_bot(env, "migrate").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    result = run_bot(env, "plugin", "list")
    assert result.returncode == 2
    assert result.stderr.startswith(f"bot: The database {small_fs / 'bot.db'} cannot be used: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_a_corrupt_database_is_refused_at_start(tmp_path: Path, plugins_dir: Path) -> None:
    path = tmp_path / "bot.db"
    env = subprocess_env(tmp_path, plugins_dir)
    assert run_bot(env, "migrate").returncode == 0
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE filler (x TEXT)")
    connection.executemany("INSERT INTO filler VALUES (?)", [("x" * 300,)] * 2000)
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 8192] = b"\xab" * 8192  # pages SQLite checks
    path.write_bytes(bytes(data))

    result = run_bot(env, "plugin", "list")
    assert result.returncode == 2
    assert result.stderr == "bot: " + messages.database_fault(
        str(path), messages.database_error("database disk image is malformed")) + "\n"
    assert result.stdout == ""


def test_a_database_file_deleted_under_a_running_bot_is_refused_not_recreated(
        bot_process: BotProcesses, fake_slack: FakeSlack, fake_openai: FakeOpenAI,
        tmp_path: Path) -> None:
    """Someone deletes the SQLite file while `bot run` runs: the bot stops reading and
    writing (its connections would write to a file nobody reads again, new ones to a new
    empty file), /readyz says why, a question is told it was not taken, the log says it
    once — and no new empty file appears for the next start to take for the database."""
    env = bot_process.env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'gone.db'}")
    port = int(env["PORT"])
    proc = bot_process.start(env)
    assert readiness(port)[0] == 200
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"gone.db{suffix}").unlink(missing_ok=True)
    fault = messages.database_fault(str(tmp_path / "gone.db"),
                                    messages.database_file_gone(replaced=False))
    status, body = readiness(port)
    assert status == 503 and fault in body
    assert post_event(port, mention_body("EvGONE")).status == 200
    fake_slack.wait_for(lambda: messages.mention_held(fault, HOLD_SECONDS) in
                        fake_slack.posted_texts("C1"))
    assert fake_openai.requests == []  # nothing was asked that could not be recorded
    assert not (tmp_path / "gone.db").exists()
    code = stop(proc)  # its shutdown cannot record itself either: exit 2, saying why
    assert fake_slack.posted_texts("C1") == [messages.mention_held(fault, HOLD_SECONDS),
                                             messages.mention_not_saved(fault)]
    log = proc.stderr.read() if proc.stderr else ""
    assert (code, log.splitlines()[-1]) == (2, f"bot: {fault}"), log
    assert log.count("was deleted while the bot ran") == 1, log


async def test_a_run_ending_while_the_disk_is_full_does_not_hold_its_thread(
        small_fs: Path, slack_bot: Make) -> None:
    """The disk fills while a run answers: the answer still reaches the thread, and the
    run's row — which the database refused to close — is closed as soon as the disk has
    room again, so the thread's next question is answered instead of waiting forever
    behind a run that is over."""
    db = small_fs / "bot.db"
    bot = await slack_bot(database_url=f"sqlite+aiosqlite:///{db}")
    bot.ai.reply("first answer", delay=1.0)
    thread, _ = await bot.mention("first question")
    await until(lambda: bot.stop_button())  # its row says running
    checkpoint(db)
    filler = fill(small_fs)
    await until(lambda: "first answer" in bot.answers(thread), 20)
    await asyncio.sleep(0.5)  # the row's close is refused meanwhile
    filler.unlink()
    bot.ai.reply("second answer")
    await bot.mention("and now?", thread_ts=thread)
    await until(lambda: "second answer" in bot.answers(thread), 15)


async def test_a_429_is_honoured_here_when_the_database_cannot_share_it(
        small_fs: Path, slack_bot: Make, caplog: Any) -> None:
    """The disk is full when Slack answers 429: this replica still holds the method and
    the call still goes after Retry-After; the log says, once, that the other replicas
    were not told."""
    db = small_fs / "bot.db"
    bot = await slack_bot(database_url=f"sqlite+aiosqlite:///{db}")
    checkpoint(db)
    filler = fill(small_fs)
    held = bot.endpoint.budgets.methods["chat.update"]
    bot.slack.rate_limit("chat.update", times=1, retry_after=2)
    edit = asyncio.create_task(
        bot.endpoint.ctx.client.chat_update(channel="C1", ts="1.2", text="edited"))
    await until(lambda: held.available("T0TEST") < 0, 3)
    await until(lambda: logged(caplog, "is not shared with the other replicas"), 5)
    assert (await edit)["ok"]
    filler.unlink()
    assert sum("is not shared with the other replicas" in r.getMessage()
               for r in caplog.records) == 1
