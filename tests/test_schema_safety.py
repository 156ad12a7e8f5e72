"""Schemas from uploads are self-contained and cheap to check (the review's schema attacks).

Each attack is replayed through a real install (probe in a sandboxed worker) and, where it
applies, a real tool call through the registry.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from bot.app import Services
from tests.helpers import zips

PLUGIN = '''
import json, os, sys, time

PARAMS = {params}

def check(**kwargs):
    return "ran"

def nested():
    fd = json.loads(sys.argv[1])["fd_out"]
    os.write(fd, b'{{"id": 1, "value": ' + b"[" * 200000 + b"]" * 200000 + b"}}\\n")
    time.sleep(5)

def get_manifest():
    return {{"name": "schemy", "version": "1.0.0"}}

def get_tools():
    tools = [{{"schema": {{"name": f"schemy_{{i}}", "parameters": PARAMS}}, "handler": check}}
             for i in range({count})]
    tools.append({{"schema": {{"name": "schemy_nested", "parameters": {{"type": "object"}}}},
                  "handler": nested}})
    return tools
'''


def upload(params: dict[str, object], count: int = 1) -> bytes:
    return zips.package("schemy", PLUGIN.format(params=repr(params), count=count))


@pytest.fixture
async def services(upload_services: Callable[..., Awaitable[Services]]) -> Services:
    return await upload_services(plugin_sandbox="process")


async def refused(services: Services, params: dict[str, object], count: int = 1) -> str:
    result = await services.installer.install(upload(params, count), "schemy.zip", actor="U1")
    assert not result.ok
    assert [p.name for p in await services.plugins.list()] == []  # nothing was installed
    return result.message


def obj(**props: object) -> dict[str, object]:
    return {"type": "object", "properties": props}


async def test_a_remote_ref_is_refused_and_never_fetched(services: Services) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/schema.json"
        message = await refused(services, obj(host={"$ref": url}))
        assert (f"tools[0].schema.parameters.properties.host.$ref: '{url}' points outside the "
                "schema: only refs inside it ('#/...') are allowed") in message
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # the bot never connected


async def test_a_file_ref_is_refused(services: Services) -> None:
    message = await refused(services, {"type": "object", "$ref": "file:///etc/shadow"})
    assert "tools[0].schema.parameters.$ref: 'file:///etc/shadow' points outside" in message


async def test_a_ref_inside_the_schema_works(services: Services) -> None:
    params = {"type": "object", "$defs": {"port": {"type": "integer", "maximum": 65535}},
              "properties": {"port": {"$ref": "#/$defs/port"}}}
    result = await services.installer.install(upload(params), "schemy.zip", actor="U1")
    assert result.ok, result.message
    await services.plugins.enable("schemy", actor="U1")
    assert (await services.registry.call("schemy_0", {"port": 443})).text == "ran"
    bad = await services.registry.call("schemy_0", {"port": 70000})
    assert bad.error == "bad_arguments" and "70000 is greater than the maximum" in bad.text


async def test_a_backtracking_pattern_is_checked_in_linear_time(services: Services) -> None:
    params = obj(text={"type": "string", "pattern": "^(a+)+$"})
    result = await services.installer.install(upload(params), "schemy.zip", actor="U1")
    assert result.ok, result.message
    await services.plugins.enable("schemy", actor="U1")
    # 60 characters: Python's re would need ~2^60 steps here; RE2 answers at once
    bad = await services.registry.call("schemy_0", {"text": "a" * 59 + "!"})
    assert bad.error == "bad_arguments"
    assert "does not match '^(a+)+$'" in bad.text
    assert (await services.registry.call("schemy_0", {"text": "aaa"})).text == "ran"


async def test_pattern_properties_run_on_re2_too(services: Services) -> None:
    params = {"type": "object", "patternProperties": {"^(x+)+$": {"type": "integer"}},
              "additionalProperties": False}
    result = await services.installer.install(upload(params), "schemy.zip", actor="U1")
    assert result.ok, result.message
    await services.plugins.enable("schemy", actor="U1")
    assert (await services.registry.call("schemy_0", {"xxx": 1})).text == "ran"
    bad = await services.registry.call("schemy_0", {"x" * 59 + "!": 1})
    assert bad.error == "bad_arguments" and "Additional properties are not allowed" in bad.text


async def test_a_pattern_re2_cannot_compile_is_refused(services: Services) -> None:
    message = await refused(services, obj(text={"type": "string", "pattern": r"(a)\1"}))
    assert "tools[0].schema.parameters.properties.text.pattern: '(a)\\\\1' is not a pattern " \
           "the bot can check in linear time" in message


async def test_too_many_tools_are_refused(services: Services) -> None:
    message = await refused(services, {"type": "object"}, count=200)
    assert "get_tools(): returned 201 tools, over the limit of 128 per plugin" in message


async def test_an_oversized_schema_is_refused(services: Services) -> None:
    params = obj(**{f"p{i}": {"type": "string", "description": "x" * 200} for i in range(400)})
    message = await refused(services, params)
    assert "over the 65,536-byte limit for one tool's schema" in message


async def test_deeply_nested_json_on_the_pipe_is_an_error_not_a_hang(
        services: Services) -> None:
    result = await services.installer.install(upload({"type": "object"}), "s.zip", actor="U1")
    assert result.ok, result.message
    await services.plugins.enable("schemy", actor="U1")
    called = await services.registry.call("schemy_nested")
    assert (called.ok, called.error) == (False, "crashed")
    assert "nested too deeply" in called.text
    assert (await services.registry.call("schemy_0")).text == "ran"


def test_the_schema_walk_finds_a_ref_deep_down() -> None:
    """As deep as JSON from a worker can be (the pipe refuses deeper ones, above)."""
    from bot.plugin_host.contract.schemas import DEFAULT_LIMITS, schema_problems

    deep: dict[str, object] = {"type": "object"}
    node = deep
    for _ in range(400):
        child: dict[str, object] = {"type": "object"}
        node["properties"] = {"x": child}
        node = child
    node["properties"] = {"x": {"$ref": "https://example.invalid/s"}}
    problems = schema_problems(deep, "p", DEFAULT_LIMITS)
    assert len(problems) == 1 and "points outside the schema" in problems[0].message


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("^[a-z0-9-]+$", "checkout-api", True), ("^[a-z0-9-]+$", "Checkout_API", False),
    ("api", "my-api-1", True), ("^é+$", "ééé", True), ("^.$", "日", True),
    ("^.$", "日本", False), ("x$", "ax", True), ("^a", "\ud800a", False), ("a", "\ud800a", True),
    ("", "", True),
])
def test_the_fast_re2_matcher_finds_what_a_search_finds(pattern: str, text: str,
                                                         expected: bool) -> None:
    import re

    from bot.plugin_host.contract.schemas import compile_pattern

    assert (re.search(pattern, text) is not None) is expected  # the meaning, per Python
    assert compile_pattern(pattern)(text) is expected
