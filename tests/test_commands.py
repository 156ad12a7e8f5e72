"""The /plugin command dispatcher shared by the console and Slack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from bot.commands import HELP, PluginCommands
from tests.conftest import ServicesFactory


@pytest.fixture
async def commands(builtin: Callable[..., Path], make_services: ServicesFactory
                   ) -> PluginCommands:
    builtin("netdiag")
    builtin("alpha")
    services: Services = await make_services(enabled=("alpha",))
    return PluginCommands(services.plugins, services.audit)


async def test_read_commands_work_for_everyone(commands: PluginCommands) -> None:
    listing = await commands.run("list", actor="U_ANY", is_admin=False)
    assert listing.ok and "netdiag  1.0.0    builtin  in-process  disabled" in listing.text
    tools = await commands.run("tools alpha", actor="U_ANY", is_admin=False)
    assert "alpha_echo  alpha   enabled" in tools.text
    assert (await commands.run("help", actor="U_ANY", is_admin=False)).text == HELP
    assert (await commands.run("", actor="U_ANY", is_admin=False)).text == HELP


@pytest.mark.parametrize("text", ["enable netdiag", "disable alpha", "remove alpha",
                                  "rollback alpha", "reload"])
async def test_changing_commands_are_refused_for_non_admins_and_audited(
        commands: PluginCommands, text: str) -> None:
    result = await commands.run(text, actor="U_INTRUDER", is_admin=False)
    assert (result.ok, result.text) == (False, messages.not_admin())
    event = (await commands.audit.recent(1))[0]
    assert (event.actor, event.action, event.outcome) == ("U_INTRUDER", text.split()[0],
                                                          "refused")
    assert "alpha_echo" in commands.manager.registry.snapshot


async def test_admin_enable_and_disable(commands: PluginCommands) -> None:
    enabled = await commands.run("enable netdiag", actor="U_ADMIN", is_admin=True)
    assert (enabled.ok, enabled.changed) == (True, True)
    assert "netdiag_echo" in commands.manager.registry.snapshot
    again = await commands.run("enable netdiag", actor="U_ADMIN", is_admin=True)
    assert (again.text, again.changed) == (messages.scope_already("netdiag", None), False)


async def test_unknown_subcommand_and_name(commands: PluginCommands) -> None:
    unknown = await commands.run("enabel netdiag", actor="U", is_admin=True)
    assert unknown.text == messages.unknown_subcommand("enabel", ["enable"], HELP)
    name = await commands.run("info netdig", actor="U", is_admin=True)
    assert (name.ok, name.text) == (False, "No plugin named 'netdig'. Did you mean 'netdiag'?")


async def test_malformed_commands(commands: PluginCommands) -> None:
    assert (await commands.run("info", actor="U", is_admin=True)).text.startswith(
        "Usage: /plugin info NAME")
    assert (await commands.run("audit many", actor="U", is_admin=True)).text == (
        messages.audit_count_not_a_number("many"))
    assert (await commands.run('info "unclosed', actor="U", is_admin=True)).text == (
        messages.command_unparsable("No closing quotation", HELP))


async def test_builtin_remove_and_rollback_are_explained(commands: PluginCommands) -> None:
    removed = await commands.run("remove alpha", actor="U", is_admin=True)
    assert removed.text == messages.builtin_not_removable("alpha")
    rolled = await commands.run("rollback alpha", actor="U", is_admin=True)
    assert rolled.text == messages.builtin_no_rollback("alpha")
