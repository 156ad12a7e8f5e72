"""The /plugin command dispatcher shared by the console and Slack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot import messages
from bot.app import Services
from bot.commands import HELP, Actor, PluginCommands, run_text
from tests.conftest import ServicesFactory


@pytest.fixture
async def commands(builtin: Callable[..., Path], make_services: ServicesFactory
                   ) -> PluginCommands:
    builtin("netdiag")
    builtin("alpha")
    services: Services = await make_services(enabled=("alpha",))
    return PluginCommands(services.plugins, services.audit)


async def test_read_commands_work_for_everyone(commands: PluginCommands) -> None:
    listing = await run_text(commands, "list", by=Actor("U_ANY", False))
    assert listing.ok and "netdiag  1.0.0    builtin  in-process  disabled" in listing.text
    tools = await run_text(commands, "tools alpha", by=Actor("U_ANY", False))
    assert "alpha_echo  alpha   enabled" in tools.text
    assert (await run_text(commands, "help", by=Actor("U_ANY", False))).text == HELP
    assert (await run_text(commands, "", by=Actor("U_ANY", False))).text == HELP


@pytest.mark.parametrize("text", ["enable netdiag", "disable alpha", "remove alpha",
                                  "rollback alpha", "reload"])
async def test_changing_commands_are_refused_for_non_admins_and_audited(
        commands: PluginCommands, text: str) -> None:
    result = await run_text(commands, text, by=Actor("U_INTRUDER", False))
    assert (result.ok, result.text) == (False, messages.not_admin())
    event = (await commands.audit.recent(1))[0]
    assert (event.actor, event.action, event.outcome) == ("U_INTRUDER", text.split()[0],
                                                          "refused")
    assert "alpha_echo" in commands.manager.registry.snapshot


async def test_admin_enable_and_disable(commands: PluginCommands) -> None:
    enabled = await run_text(commands, "enable netdiag", by=Actor("U_ADMIN", True))
    assert (enabled.ok, enabled.changed) == (True, True)
    assert "netdiag_echo" in commands.manager.registry.snapshot
    again = await run_text(commands, "enable netdiag", by=Actor("U_ADMIN", True))
    assert (again.text, again.changed) == (messages.scope_already("netdiag", None), False)


async def test_unknown_subcommand_and_name(commands: PluginCommands) -> None:
    unknown = await run_text(commands, "enabel netdiag", by=Actor("U", True))
    assert unknown.text == messages.unknown_subcommand("enabel", ["enable"], HELP)
    name = await run_text(commands, "info netdig", by=Actor("U", True))
    assert (name.ok, name.text) == (False, "No plugin named 'netdig'. Did you mean 'netdiag'?")


async def test_malformed_commands(commands: PluginCommands) -> None:
    assert (await run_text(commands, "info", by=Actor("U", True))).text.startswith(
        "Usage: /plugin info NAME")
    assert (await run_text(commands, "audit many", by=Actor("U", True))).text == (
        messages.audit_count_not_a_number("many"))
    assert (await run_text(commands, 'info "unclosed', by=Actor("U", True))).text == (
        messages.command_unparsable("No closing quotation", HELP))


async def test_builtin_remove_and_rollback_are_explained(commands: PluginCommands) -> None:
    removed = await run_text(commands, "remove alpha", by=Actor("U", True))
    assert removed.text == messages.builtin_not_removable("alpha")
    rolled = await run_text(commands, "rollback alpha", by=Actor("U", True))
    assert rolled.text == messages.builtin_no_rollback("alpha")


async def test_the_typed_calls_are_the_commands_app_home_and_the_cli_use(
        commands: PluginCommands) -> None:
    """The text is read into these calls; App Home and `bot plugin` make them directly:
    the same gate (audited), the same sentences, failures as results, never raised."""
    stranger, admin = Actor("U_STRANGER", False), Actor("U_ADMIN", True)
    refused = await commands.enable("netdiag", by=stranger)
    assert (refused.ok, refused.text) == (False, messages.not_admin())
    event = (await commands.audit.recent(1))[0]
    assert (event.actor, event.action, event.target) == ("U_STRANGER", "enable", "netdiag")
    typed = await commands.enable("netdiag", by=admin)
    assert (typed.ok, typed.changed) and "netdiag_echo" in commands.manager.registry.snapshot
    again = await run_text(commands, "enable netdiag", by=admin)
    assert again.text == messages.scope_already("netdiag", None)
    missing = await commands.info("netdig", by=stranger)
    assert (missing.ok, missing.text) == (False,
                                          "No plugin named 'netdig'. Did you mean 'netdiag'?")
    assert (await commands.settings_of("alpha", by=stranger)).text == (
        messages.settings_admins_only())
    assert (await commands.audit_trail(0, by=admin)).text == (
        messages.audit_count_not_positive(0))
