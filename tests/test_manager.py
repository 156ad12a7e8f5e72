"""PluginManager against a real SQLite file: the seed's checklist and beyond."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import messages
from bot.errors import ConflictError, NotFoundError, PluginError
from bot.store.models import AuditEvent, PluginRow
from tests.conftest import ServicesFactory
from tests.helpers.plugin_factory import plugin_source

Builtin = Callable[..., Path]


async def test_disable_removes_tools_and_enable_brings_them_back(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    services = await make_services(enabled=("alpha",))
    assert (await services.registry.call("alpha_echo", {"text": "x"})).text == "alpha:x"

    await services.plugins.disable("alpha", actor="tester")
    assert "alpha_echo" not in services.registry.snapshot
    refused = await services.registry.call("alpha_echo", {"text": "x"})
    assert (refused.ok, refused.error) == (False, "unknown_tool")

    outcome = await services.plugins.enable("alpha", actor="tester")
    assert outcome.message == "Enabled alpha 1.0.0 (alpha_echo)."
    assert (await services.registry.call("alpha_echo", {"text": "y"})).text == "alpha:y"


async def test_state_survives_a_restart(builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    builtin("beta")
    first = await make_services(enabled=("alpha",))
    await first.plugins.enable("beta", actor="tester")
    await first.plugins.disable("alpha", actor="tester")
    await first.close()

    second = await make_services(enabled=("alpha",))  # defaults apply to new rows only
    assert sorted(second.registry.snapshot.tools) == ["beta_echo"]
    states = {p.name: p.status for p in await second.plugins.list()}
    assert states == {"alpha": "disabled", "beta": "enabled"}


async def test_builtins_get_rows_on_first_start_with_default_enabled(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    for name in ("kubectl", "k8sgpt", "netdiag"):
        builtin(name)
    services = await make_services(enabled=("kubectl", "k8sgpt"))
    plugins = {p.name: p for p in await services.plugins.list()}
    assert {n: p.status for n, p in plugins.items()} == {
        "k8sgpt": "enabled", "kubectl": "enabled", "netdiag": "disabled"}
    assert plugins["netdiag"].version == "1.0.0"
    assert plugins["netdiag"].tool_names == ("netdiag_echo",)  # known while disabled
    assert plugins["kubectl"].versions[0].installed_by == "bot (builtin)"


async def test_broken_plugins_are_marked_error_and_good_ones_keep_working(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("good")
    builtin("syntax", "def get_manifest(:\n")
    builtin("nogettools", "def get_manifest():\n    return {'name': 'nogettools', "
                          "'version': '1.0'}\n")
    builtin("raises", plugin_source("raises").replace(
        "def get_tools():\n", "def get_tools():\n    raise RuntimeError('kaboom')\n"))
    builtin("badschema", plugin_source("badschema").replace("'type': 'object'",
                                                            "'type': 'objekt'"))
    services = await make_services(enabled=("good", "syntax", "nogettools", "raises",
                                            "badschema"))
    plugins = {p.name: p for p in await services.plugins.list()}
    assert plugins["good"].status == "enabled"
    assert (await services.registry.call("good_echo", {})).text == "good:hi"
    errors = {name: p.error for name, p in plugins.items() if p.status == "error"}
    assert set(errors) == {"syntax", "nogettools", "raises", "badschema"}
    assert errors["syntax"].startswith("plugin 'syntax': import: SyntaxError:")
    assert errors["nogettools"] == ("plugin 'nogettools': get_tools(): is missing: a plugin "
                                    "must define it")
    assert errors["raises"].startswith("plugin 'raises': get_tools(): raised RuntimeError: "
                                       "kaboom (")
    assert errors["badschema"].startswith(
        "plugin 'badschema': tools[0].schema.parameters.type: is not valid JSON Schema:")


async def test_load_errors_are_audited_once_not_at_every_restart(
        builtin: Builtin, make_services: ServicesFactory, settings: object) -> None:
    builtin("syntax", "def get_manifest(:\n")
    first = await make_services(enabled=("syntax",))
    await first.close()
    second = await make_services(enabled=("syntax",))
    events = await second.audit.recent(10, target="syntax")
    assert [(e.actor, e.action, e.outcome) for e in events] == [("system", "load", "error")]


async def test_enabling_a_plugin_whose_tool_clashes_names_both(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("first", tools={"shared_tool": "return 'first'"})
    builtin("second", tools={"shared_tool": "return 'second'"})
    services = await make_services(enabled=("first",))
    with pytest.raises(ConflictError) as info:
        await services.plugins.enable("second", actor="U1")
    assert str(info.value) == ("Cannot enable 'second': its tool 'shared_tool' is already "
                               "provided by the enabled plugin 'first'. Disable 'first' first.")
    assert (await services.registry.call("shared_tool", {})).text == "first"
    assert (await services.plugins.info("second")).status == "disabled"
    event = (await services.audit.recent(1))[0]
    assert (event.actor, event.action, event.target, event.outcome) == (
        "U1", "enable", "second", "refused")


async def test_clash_at_start_marks_the_later_plugin_error(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("first", tools={"shared_tool": "return 'first'"})
    builtin("second", tools={"shared_tool": "return 'second'"})
    services = await make_services(enabled=("first", "second"))
    second = await services.plugins.info("second")
    assert second.status == "error"
    assert "already provided by the enabled plugin 'first'" in (second.error or "")
    assert (await services.registry.call("shared_tool", {})).text == "first"


async def test_enable_of_a_plugin_that_now_fails_records_the_error(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    path = builtin("flaky")
    services = await make_services()
    (path / "__init__.py").write_text("raise ImportError('dependency gone')\n")
    with pytest.raises(PluginError, match="dependency gone"):
        await services.plugins.enable("flaky", actor="U1")
    info = await services.plugins.info("flaky")
    assert info.status == "error" and "dependency gone" in (info.error or "")
    assert "flaky_echo" not in services.registry.snapshot


async def test_unknown_names_suggest_close_matches(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("netdiag")
    services = await make_services()
    with pytest.raises(NotFoundError) as info:
        await services.plugins.enable("netdig", actor="U1")
    assert str(info.value) == "No plugin named 'netdig'. Did you mean 'netdiag'?"
    with pytest.raises(NotFoundError, match=r"^No plugin named 'zzz'\.$"):
        await services.plugins.info("zzz")


async def test_builtins_cannot_be_removed(builtin: Builtin,
                                          make_services: ServicesFactory) -> None:
    builtin("alpha")
    services = await make_services(enabled=("alpha",))
    with pytest.raises(ConflictError, match="built-in plugin and cannot be removed"):
        await services.plugins.remove("alpha", actor="U1")
    assert "alpha_echo" in services.registry.snapshot


async def test_builtin_whose_files_vanish_shows_error_and_is_not_dropped(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    path = builtin("gone")
    first = await make_services(enabled=("gone",))
    await first.close()
    shutil.rmtree(path)
    second = await make_services(enabled=("gone",))
    info = await second.plugins.info("gone")
    assert (info.status, info.error) == ("error", messages.files_missing("builtins/gone"))
    assert info.enabled  # the admin's choice is kept for when the files come back


async def test_changed_builtin_version_is_recorded(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    await (await make_services(enabled=("alpha",))).close()
    builtin("alpha", version="1.1.0")
    services = await make_services(enabled=("alpha",))
    info = await services.plugins.info("alpha")
    assert info.version == "1.1.0"
    assert [(v.version, v.active) for v in info.versions] == [("1.0.0", False), ("1.1.0", True)]


async def test_actions_are_audited_with_the_actor(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    services = await make_services()
    await services.plugins.enable("alpha", actor="U_ADMIN")
    await services.plugins.disable("alpha", actor="cli:ops")
    async with services.db.read() as session:
        rows = (await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()
        assert [(e.actor, e.action, e.target, e.outcome) for e in rows] == [
            ("U_ADMIN", "enable", "alpha", "ok"), ("cli:ops", "disable", "alpha", "ok")]


async def test_refresh_applies_changes_made_by_another_process(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    bot = await make_services()
    cli = await make_services()
    await cli.plugins.enable("alpha", actor="cli:ops")
    assert "alpha_echo" not in bot.registry.snapshot
    assert await bot.plugins.refresh() is True
    assert (await bot.registry.call("alpha_echo", {})).text == "alpha:hi"
    await cli.plugins.disable("alpha", actor="cli:ops")
    assert await bot.plugins.refresh() is True
    assert "alpha_echo" not in bot.registry.snapshot
    assert await bot.plugins.refresh() is False


async def test_concurrent_admin_operations_are_serialised(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    for i in range(5):
        builtin(f"p{i}")
    services = await make_services()
    await asyncio.gather(*(services.plugins.enable(f"p{i}", actor="U1") for i in range(5)),
                         *(services.plugins.disable(f"p{i}", actor="U2") for i in range(0, 5, 2)))
    enabled = {p.name for p in await services.plugins.list() if p.enabled}
    assert enabled == {name for name, _ in _plugins_in(services.registry.snapshot.tools)}
    async with services.db.read() as session:
        rows = (await session.execute(select(PluginRow))).scalars().all()
        assert all(r.status in {"enabled", "disabled"} for r in rows)


def _plugins_in(tools: object) -> set[tuple[str, str]]:
    return {(tool.plugin, name) for name, tool in tools.items()}  # type: ignore[attr-defined]


async def test_enabled_plugin_keeps_serving_a_held_snapshot_during_disable(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    builtin("alpha")
    services = await make_services(enabled=("alpha",))
    held = services.registry.snapshot
    await services.plugins.disable("alpha", actor="U1")
    assert "alpha_echo" in held and "alpha_echo" not in services.registry.snapshot


def many_tools(prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}_{i}": "return 'x'" for i in range(count)}


async def test_a_change_that_offers_a_channel_more_tools_than_one_request_carries_is_refused(
        builtin: Builtin, make_services: ServicesFactory) -> None:
    """OpenAI refuses a request with more than 128 tools: every question in that channel
    would fail. Enabling, or widening where a plugin runs, past that is refused."""
    from bot.plugin_host.policy.scopes import Where

    builtin("big", tools=many_tools("big", 70))
    builtin("huge", tools=many_tools("huge", 70))
    services = await make_services(enabled=("big",))
    with pytest.raises(ConflictError) as refused:
        await services.plugins.enable("huge", actor="U1")
    assert str(refused.value) == messages.too_many_tools("huge", 70, 140, 128)
    assert str(refused.value).startswith("Cannot enable 'huge': with its 70 tools a channel "
                                         "would be offered 140, over the model API's limit")
    assert (await services.plugins.info("huge")).status == "disabled"
    assert len(services.registry.snapshot) == 70
    event = (await services.audit.recent(1))[0]
    assert (event.actor, event.action, event.target, event.outcome) == (
        "U1", "enable", "huge", "refused")

    await services.plugins.disable("big", actor="U1")
    await services.plugins.enable("big", actor="U1", where=Where(("C1",)))
    enabled = await services.plugins.enable("huge", actor="U1", where=Where(("C2",)))
    assert enabled.changed  # 70 tools in C1, 70 in C2: each request carries 70
    with pytest.raises(ConflictError):  # C1 would carry 140
        await services.plugins.enable("huge", actor="U1", where=Where(("C1",)))
    with pytest.raises(ConflictError):  # everywhere: C1 again
        await services.plugins.enable("huge", actor="U1", where=Where(()))
    assert (await services.plugins.info("huge")).channels == ("C2",)  # nothing half-done
    offered = services.registry.snapshot.openai_tools
    assert (len(offered("C1")), len(offered("C2")), len(offered("C3"))) == (70, 70, 0)
