"""/plugin, uploads, App Home and approvals over signed HTTP against the fake Slack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot import messages
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import zips
from tests.helpers.plugin_factory import GATED
from tests.helpers.slack_admin import approval_id, command, share
from tests.helpers.slack_harness import SlackBot, logged, until

Make = Callable[..., Awaitable[SlackBot]]
call = FakeOpenAI.tool_call


@pytest.fixture(autouse=True)
def plugins(builtin: Callable[..., Path]) -> None:
    builtin("alpha")
    builtin("netdiag")


@pytest.mark.parametrize("text", ["list", "info netdiag", "tools", "tools alpha",
                                  "versions netdiag", "audit 5", "help"])
async def test_read_subcommands_answer_everyone(slack_bot: Make, text: str) -> None:
    bot = await slack_bot()
    for user in ("U_ADMIN", "U_SOMEONE"):
        reply = await command(bot, text, user)
        assert "not allowed" not in reply and reply


async def test_enable_disable_as_admin(slack_bot: Make) -> None:
    bot = await slack_bot()
    assert await command(bot, "enable netdiag", "U_ADMIN") == (
        "Enabled netdiag 1.0.0 (netdiag_echo).")
    assert "netdiag_echo" in bot.services.registry.snapshot
    assert await command(bot, "disable netdiag", "U_ADMIN") == messages.disabled("netdiag")


@pytest.mark.parametrize("text", ["enable netdiag", "disable alpha", "remove alpha",
                                  "rollback alpha", "reload"])
async def test_changing_subcommands_are_refused_for_others_and_audited(
        slack_bot: Make, text: str) -> None:
    bot = await slack_bot()
    reply = await command(bot, text, "U_SOMEONE")
    assert reply == messages.not_admin()
    event = (await bot.services.audit.recent(1))[0]
    assert (event.actor, event.outcome) == ("U_SOMEONE", "refused")


async def test_unknown_subcommand_and_name(slack_bot: Make) -> None:
    bot = await slack_bot()
    assert (await command(bot, "enabel netdiag", "U_ADMIN")).startswith(
        "```" + messages.unknown_subcommand("enabel", ["enable"], "").strip())
    assert await command(bot, "enable netdig", "U_ADMIN") == (
        "No plugin named 'netdig'. Did you mean 'netdiag'?")


def cards(bot: SlackBot) -> list[dict[str, object]]:
    return [c for c in bot.slack.calls_to("chat.postMessage") if c.get("channel") == "C_ADMIN"]


async def test_admin_upload_installs_and_posts_a_card_in_the_files_thread(
        slack_bot: Make) -> None:
    bot = await slack_bot()
    await bot.event(share(bot, "F1", "uploaded.zip", zips.package("uploaded"), user="U_ADMIN"))
    card = (await until(lambda: cards(bot)))[0]
    assert card["thread_ts"] == "1700000000.000100"
    assert card["text"] == messages.installed("uploaded", "1.0.0", None, enabled=False)
    assert card["blocks"][-1]["elements"][0]["action_id"] == "plugin_enable"
    assert (await bot.services.plugins.info("uploaded")).version == "1.0.0"
    download_path, token = bot.slack.downloads[0]
    assert download_path.endswith("/uploaded.zip") and token == "xoxb-test-bot-token"
    _, path = await bot.click("plugin_enable", "uploaded", user="U_ADMIN", channel="C_ADMIN")
    await until(lambda: bot.responses(path))
    assert "uploaded_echo" in bot.services.registry.snapshot


async def test_file_share_message_and_file_shared_install_once(
        slack_bot: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="bot.slack.uploads")
    bot = await slack_bot()
    event = share(bot, "F2", "once.zip", zips.package("once"), user="U_ADMIN")
    await bot.event(event)
    await bot.event({"type": "message", "subtype": "file_share", "user": "U_ADMIN",
                     "channel": "C_ADMIN", "ts": "1700000000.000100", "text": "",
                     "files": [{"id": "F2"}]})
    await until(lambda: cards(bot))
    await until(lambda: logged(caplog, "file F2 announced again: already handled"))
    assert len(cards(bot)) == 1 and len(bot.slack.downloads) == 1


async def test_upload_by_a_non_admin_installs_nothing(slack_bot: Make) -> None:
    bot = await slack_bot()
    await bot.event(share(bot, "F3", "sneaky.zip", zips.package("sneaky"), user="U_SOMEONE"))
    notice = (await until(lambda: bot.slack.calls_to("chat.postEphemeral")))[0]
    assert notice["user"] == "U_SOMEONE"
    assert notice["text"] == messages.upload_not_admin("sneaky.zip")
    assert bot.slack.downloads == []
    assert "sneaky" not in [p.name for p in await bot.services.plugins.list()]


async def test_upload_in_another_channel_is_ignored(slack_bot: Make,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="bot.slack.uploads")
    bot = await slack_bot()
    await bot.event(share(bot, "F4", "elsewhere.zip", zips.package("elsewhere"),
                          user="U_ADMIN", channel="C_RANDOM"))
    await until(lambda: logged(caplog, "file F4 shared in C_RANDOM: uploads are accepted "
                               "only in the admin channel"))
    assert bot.slack.calls_to("files.info") == [] and bot.slack.downloads == []
    assert bot.slack.calls_to("chat.postEphemeral") == []


async def test_a_file_share_message_elsewhere_is_acked_and_ignored(
        slack_bot: Make, caplog: pytest.LogCaptureFixture) -> None:
    """The admin-channel matcher lets a file_share message elsewhere fall through to the
    plain message listener: Slack gets its 200 (no retries), nothing is fetched."""
    caplog.set_level("DEBUG", logger="bot.slack.uploads")
    bot = await slack_bot()
    share(bot, "F9", "elsewhere.zip", zips.package("elsewhere"), user="U_ADMIN",
          channel="C_RANDOM")
    response = await bot.event({"type": "message", "subtype": "file_share", "user": "U_ADMIN",
                                "channel": "C_RANDOM", "ts": bot.new_ts(), "text": "",
                                "files": [{"id": "F9"}, "not-a-file"]})
    assert response.status == 200
    await until(lambda: logged(caplog, "file (in a message) shared in C_RANDOM: uploads are "
                               "accepted only in the admin channel"))
    assert bot.slack.calls_to("files.info") == [] and bot.slack.downloads == []


async def test_hostile_upload_replies_with_its_problems(slack_bot: Make) -> None:
    bot = await slack_bot()
    evil = zips.build(zips.entry("evil/__init__.py", "x = 1"), zips.entry("../escape.py", "x"))
    await bot.event(share(bot, "F5", "evil.zip", evil, user="U_ADMIN"))
    card = (await until(lambda: cards(bot)))[0]
    assert card["text"] == ("Refused evil.zip: ../escape.py: '..' and '.' path components "
                            "are not allowed")
    assert "plugin_enable" not in str(card["blocks"])


@pytest.mark.parametrize(("url", "host"), [
    ("https://attacker.example/remote.zip", "attacker.example"),
    # plain http on a Slack host: the token would travel in clear
    ("http://files.slack.com/files-pri/T1-F6/remote.zip", "files.slack.com"),
])
async def test_a_file_off_slacks_https_hosts_is_never_fetched_with_the_token(
        slack_bot: Make, url: str, host: str) -> None:
    bot = await slack_bot()
    event = share(bot, "F6", "remote.zip", zips.package("remote"), user="U_ADMIN", url=url)
    await bot.event(event)
    card = (await until(lambda: cards(bot)))[0]
    assert f"refused to fetch the file from {host}" in card["text"]
    assert bot.slack.downloads == []


async def test_oversized_file_is_refused_before_download(slack_bot: Make) -> None:
    bot = await slack_bot(plugin_max_upload_mb=0.01)
    await bot.event(share(bot, "F7", "big.zip", b"PK\x03\x04" + b"x" * 20, user="U_ADMIN",
                          size=5_000_000))
    card = (await until(lambda: cards(bot)))[0]
    assert "5,000,000 bytes is over the 10,485-byte upload limit" in card["text"]
    assert bot.slack.downloads == []


async def test_login_page_instead_of_a_zip_is_refused(slack_bot: Make) -> None:
    bot = await slack_bot()
    event = share(bot, "F8", "page.zip", zips.package("page"), user="U_ADMIN")
    bot.slack.file_bodies["F8"] = b"<!DOCTYPE html><html>Sign in</html>"
    await bot.event(event)
    card = (await until(lambda: cards(bot)))[0]
    assert messages.download_not_zip() in card["text"]


async def test_app_home_toggle_then_a_mention_uses_the_tool(slack_bot: Make) -> None:
    bot = await slack_bot()
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D1", "event_ts": bot.new_ts()})
    view = (await until(lambda: bot.slack.calls_to("views.publish")))[0]["view"]
    buttons = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert {b["value"]: b["text"]["text"] for b in buttons} == {"alpha": "Enable",
                                                                "netdiag": "Enable"}
    await bot.click("plugin_toggle", "netdiag", user="U_ADMIN")
    await until(lambda: "netdiag_echo" in bot.services.registry.snapshot)
    await until(lambda: len(bot.slack.calls_to("views.publish")) >= 2)
    bot.ai.reply(tool_calls=[call("netdiag_echo", {"text": "x"}, "c1")])
    bot.ai.reply("used it")
    await bot.mention("check")
    await until(lambda: len(bot.ai.requests) >= 2)
    assert "netdiag_echo" in bot.ai.tool_names(0)
    assert bot.ai.messages(1)[-1]["content"] == "netdiag:x"

    await bot.click("plugin_toggle", "netdiag", user="U_ADMIN")
    await until(lambda: "netdiag_echo" not in bot.services.registry.snapshot)
    bot.ai.reply("without it")
    await bot.mention("again")
    await until(lambda: len(bot.ai.requests) >= 3)
    assert "netdiag_echo" not in (bot.ai.tool_names(2))


async def test_app_home_is_read_only_for_non_admins(slack_bot: Make) -> None:
    bot = await slack_bot()
    await bot.event({"type": "app_home_opened", "user": "U_SOMEONE", "tab": "home",
                     "channel": "D2", "event_ts": bot.new_ts()})
    view = (await until(lambda: bot.slack.calls_to("views.publish")))[0]["view"]
    assert not [b for b in view["blocks"] if "accessory" in b]
    await bot.click("plugin_toggle", "netdiag", user="U_SOMEONE")
    notice = (await until(lambda: bot.slack.calls_to("chat.postEphemeral")))[0]
    assert notice["text"] == messages.not_admin()
    assert "netdiag_echo" not in bot.services.registry.snapshot


@pytest.fixture
def gated(builtin: Callable[..., Path]) -> None:
    builtin("gated", GATED)


async def run_gated(bot: SlackBot, decision: str | None, user: str = "U_ADMIN") -> str:
    bot.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    bot.ai.reply("finished")
    await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    if decision:
        _, path = await bot.click(decision, str(approval), user=user)
        await until(lambda: bot.responses(path))
    await until(lambda: len(bot.ai.requests) >= 2, seconds=10)
    return bot.ai.messages(1)[-1]["content"]


async def test_approve_runs_the_tool(slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",))
    assert await run_gated(bot, "approve_tool") == "restarted web"
    actions = [e.action for e in await bot.services.audit.recent(5, target="restart")]
    assert "approve" in actions


async def test_deny_does_not_run_the_tool(slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",))
    told = await run_gated(bot, "deny_tool")
    assert told == "An admin (<@U_ADMIN>) denied running 'restart'; it was not run."


async def test_no_decision_in_time_is_a_denial(slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",), approval_timeout_seconds=0.5)
    told = await run_gated(bot, None)
    assert told == "No admin approved 'restart' within 0.5 s; it was not run."


async def test_non_admin_cannot_decide(slack_bot: Make, gated: None) -> None:
    bot = await slack_bot(enabled=("gated",), approval_timeout_seconds=1.5)
    bot.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    bot.ai.reply("finished")
    await bot.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(bot))
    _, path = await bot.click("approve_tool", str(approval), user="U_ASKER")
    replies = await until(lambda: bot.responses(path))
    assert replies[0]["text"] == messages.APPROVAL_ADMINS_ONLY
    await until(lambda: len(bot.ai.requests) >= 2, seconds=10)
    assert bot.ai.messages(1)[-1]["content"].startswith("No admin approved 'restart'")


async def test_automatic_disable_is_announced_in_the_admin_channel(slack_bot: Make) -> None:
    bot = await slack_bot(plugin_max_consecutive_failures=2)
    crasher = zips.package("crasher", tools={"crasher_boom": "import os; os._exit(3)"})
    assert (await bot.services.installer.install(crasher, "c.zip", actor="U_ADMIN")).ok
    await bot.services.plugins.enable("crasher", actor="U_ADMIN")
    for _ in range(2):
        await bot.services.registry.call("crasher_boom")
    notice = await until(lambda: [t for t in bot.slack.posted_texts("C_ADMIN")
                                  if "crasher" in t])
    reason = (await bot.services.plugins.info("crasher")).error
    assert reason and reason.startswith(messages.auto_disabled(2, "").split(" (last")[0])
    assert notice[0] == messages.auto_disabled_notice("crasher", reason)


async def test_remove_rollback_and_reload_as_admin(slack_bot: Make) -> None:
    bot = await slack_bot()
    for version in ("1.0.0", "2.0.0"):
        result = await bot.services.installer.install(
            zips.package("versioned", version=version), "v.zip", actor="U_ADMIN")
        assert result.ok, result.message
    assert await command(bot, "rollback versioned", "U_ADMIN") == (
        "Rolled versioned back from 2.0.0 to 1.0.0.")
    assert "*  1.0.0" in await command(bot, "versions versioned", "U_ADMIN")
    reloaded = await command(bot, "reload", "U_ADMIN")
    assert reloaded.startswith("```" + messages.reloaded(3))
    assert (await command(bot, "remove versioned", "U_ADMIN")).startswith("Removed versioned")
    assert "versioned" not in [p.name for p in await bot.services.plugins.list()]


async def test_a_decision_taken_on_another_replica_is_seen(slack_bot: Make,
                                                           gated: None) -> None:
    asking = await slack_bot(enabled=("gated",))
    other = await slack_bot(enabled=("gated",))  # a second replica, same database
    asking.ai.reply(tool_calls=[call("restart", {"text": "web"}, "c1")])
    asking.ai.reply("finished")
    await asking.mention("restart web", user="U_ASKER")
    approval = await until(lambda: approval_id(asking))
    _, path = await other.click("approve_tool", str(approval), user="U_ADMIN")
    await until(lambda: other.responses(path))
    await until(lambda: len(asking.ai.requests) >= 2, seconds=10)
    assert asking.ai.messages(1)[-1]["content"] == "restarted web"


HOSTILE_TEXT = "<!channel> read <https://evil.example/login|the runbook> & act"
HOSTILE = f'''
def shout():
    raise RuntimeError({HOSTILE_TEXT!r})

def get_manifest():
    return {{"name": "loud", "version": "1.0.0", "description": {HOSTILE_TEXT!r}}}

def get_tools():
    return [{{"schema": {{"name": "loud_shout", "parameters": {{"type": "object"}}}},
             "handler": shout}}]
'''
ESCAPED = "&lt;!channel&gt; read &lt;https://evil.example/login|the runbook&gt; &amp; act"


async def test_plugin_controlled_text_is_escaped_everywhere_in_slack(slack_bot: Make) -> None:
    """Attack: a description, an error or tool output with `<!channel>` and a disguised link
    rendered as a ping and a link in Block Kit."""
    bot = await slack_bot()
    await bot.event(share(bot, "F9", "loud.zip", zips.package("loud", HOSTILE), user="U_ADMIN"))
    card = (await until(lambda: cards(bot)))[0]
    fields = {f["text"].split("\n")[0]: f["text"] for f in card["blocks"][1]["fields"]}
    assert fields["*Sandbox*"] == "*Sandbox*\nprocess"
    await bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home",
                     "channel": "D1", "event_ts": bot.new_ts()})
    view = (await until(lambda: bot.slack.calls_to("views.publish")))[0]["view"]
    home = str(view)
    assert ESCAPED in home and "<!channel>" not in home
    assert "Runs in: process" in home
    info = await command(bot, "info loud", "U_ADMIN")
    assert ESCAPED in info and "<!channel>" not in info
    await command(bot, "enable loud", "U_ADMIN")
    bot.ai.reply(tool_calls=[call("loud_shout", {}, "c1")])
    bot.ai.reply(f"The tool said: {HOSTILE_TEXT}")
    thread, _ = await bot.mention("what does loud say?")
    answers = await until(lambda: bot.answers(thread))
    assert ESCAPED in answers[-1] and "<!channel>" not in answers[-1]
    await until(bot.finished_status)
    statuses = str(bot.slack.calls_to("chat.update"))
    assert "&lt;!channel&gt;" in statuses and "<!channel>" not in statuses
