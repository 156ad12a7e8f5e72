"""Plugin validation: every problem is reported at once, with the plugin name and field."""

from __future__ import annotations

import types
from typing import Any

import pytest

from bot.errors import PluginError
from bot.plugin_host.contract.validation import check_module


def module(manifest: Any = None, tools: Any = None, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType("candidate")
    if manifest is not None:
        mod.get_manifest = lambda: manifest  # type: ignore[attr-defined]
    if tools is not None:
        mod.get_tools = lambda: tools  # type: ignore[attr-defined]
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


def ok_manifest(**changes: Any) -> dict[str, Any]:
    return {"name": "demo", "version": "1.0.0", "description": "d", "author": "a"} | changes


def handler(text: str = "") -> str:
    return text


def tool(schema: Any = None, **extra: Any) -> dict[str, Any]:
    schema = schema if schema is not None else {
        "name": "demo_tool", "description": "x",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}
    return {"schema": schema, "handler": handler} | extra


def problems_of(mod: types.ModuleType, **kwargs: Any) -> list[str]:
    with pytest.raises(PluginError) as info:
        check_module(mod, **kwargs)
    return [str(p) for p in info.value.problems]


def test_valid_plugin_bare_schema_is_normalised_to_the_wrapper() -> None:
    plugin = check_module(module(ok_manifest(), [tool()]))
    assert plugin.manifest.name == "demo"
    assert plugin.tools[0].openai_schema == {
        "type": "function",
        "function": {"name": "demo_tool", "description": "x",
                     "parameters": {"type": "object",
                                    "properties": {"text": {"type": "string"}}}}}


def test_wrapped_schema_is_accepted_unchanged() -> None:
    wrapped = {"type": "function", "function": {"name": "w", "description": "d",
                                                "parameters": {"type": "object"}}}
    plugin = check_module(module(ok_manifest(), [tool(wrapped)]))
    assert plugin.tools[0].openai_schema == wrapped


def test_missing_parameters_become_an_empty_object_schema() -> None:
    plugin = check_module(module(ok_manifest(), [tool({"name": "noargs"})]))
    assert plugin.tools[0].parameters == {"type": "object", "properties": {}}


def test_missing_get_tools_is_reported() -> None:
    assert problems_of(module(ok_manifest())) == [
        "get_tools(): is missing: a plugin must define it"]


def test_get_tools_that_raises_is_reported_with_exception_and_line() -> None:
    def boom() -> list[Any]:
        raise RuntimeError("no config")

    problems = problems_of(module(ok_manifest(), get_tools=boom))
    assert len(problems) == 1
    assert problems[0].startswith("get_tools(): raised RuntimeError: no config (")


@pytest.mark.parametrize(("name", "expected"), [
    ("Bad-Name", "manifest.name: 'Bad-Name' must match"),
    ("1abc", "manifest.name: '1abc' must match"),
    (None, "manifest.name: None must match"),
    ("x" * 65, "manifest.name: '" + "x" * 65 + "' must match"),
])
def test_bad_plugin_names_are_refused(name: Any, expected: str) -> None:
    assert problems_of(module(ok_manifest(name=name), [tool()]))[0].startswith(expected)


@pytest.mark.parametrize("version", ["one", "1.0.0-beta.x.y", "", "v1..0"])
def test_bad_versions_are_refused(version: str) -> None:
    assert problems_of(module(ok_manifest(version=version), [tool()])) == [
        f"manifest.version: {version!r} is not a valid PEP 440 version (try '1.0.0')"]


def test_version_must_be_a_string() -> None:
    assert problems_of(module(ok_manifest(version=1.0), [tool()])) == [
        "manifest.version: 1.0 must be a version string such as '1.0.0'"]


def test_name_must_match_directory() -> None:
    assert problems_of(module(ok_manifest(), [tool()]), expected_name="other") == [
        "manifest.name: 'demo' does not match the plugin's directory or file name 'other'"]


def test_unknown_permission_is_refused() -> None:
    assert problems_of(module(ok_manifest(permissions=["network", "root"]), [tool()])) == [
        "manifest.permissions[1]: unknown permission 'root' (known: network)"]


def test_manifest_must_be_a_dict() -> None:
    assert problems_of(module(["demo"], [tool()])) == ["manifest: must be a dict, got list"]


def test_bad_tool_name_is_refused() -> None:
    problems = problems_of(module(ok_manifest(), [tool({"name": "has space"})]))
    assert problems == ["tools[0].schema.name: 'has space' must match ^[A-Za-z0-9_-]{1,64}$"]


def test_parameters_must_be_valid_json_schema() -> None:
    bad = {"name": "t", "parameters": {"type": "object",
                                       "properties": {"n": {"type": "integr"}}}}
    problems = problems_of(module(ok_manifest(), [tool(bad)]))
    assert len(problems) == 1
    assert problems[0].startswith(
        "tools[0].schema.parameters.properties.n.type: is not valid JSON Schema:")


def test_parameters_must_describe_an_object() -> None:
    problems = problems_of(module(ok_manifest(), [tool({"name": "t",
                                                        "parameters": {"type": "string"}})]))
    assert problems == ["tools[0].schema.parameters.type: must be 'object': tool arguments "
                        "are always an object of named parameters"]


def test_handler_must_be_callable_and_options_typed() -> None:
    problems = problems_of(module(ok_manifest(), [
        {"schema": {"name": "t"}, "handler": "not a function", "requires_approval": "yes",
         "timeout": -1}]))
    assert problems == [
        "tools[0].handler: must be a function (sync or async)",
        "tools[0].requires_approval: must be true or false",
        "tools[0].timeout: -1 must be a number of seconds greater than 0 and at most 600",
    ]


def test_duplicate_tool_names_inside_one_plugin() -> None:
    problems = problems_of(module(ok_manifest(), [tool(), tool()]))
    assert problems == ["tools[1].schema.function.name: 'demo_tool' is already used by tools[0]"]


def test_unknown_function_fields_are_refused() -> None:
    problems = problems_of(module(ok_manifest(), [tool({"name": "t", "params": {}})]))
    assert problems == ["tools[0].schema.params: is not a field of an OpenAI function "
                        "(allowed: name, description, parameters, strict)"]


def test_every_problem_is_reported_at_once_with_the_plugin_name() -> None:
    mod = module(ok_manifest(version="nope", permissions=["telepathy"]),
                 [tool({"name": "ok"}), tool({"name": "bad name"}), "garbage"])
    with pytest.raises(PluginError) as info:
        check_module(mod)
    error = info.value
    assert error.name == "demo"
    assert [p.field for p in error.problems] == [
        "manifest.version", "manifest.permissions[0]", "tools[1].schema.name", "tools[2]"]
    assert str(error).startswith("plugin 'demo' has 4 problems:\n- manifest.version:")


def test_ctx_is_detected_only_as_keyword_only_parameter() -> None:
    def with_ctx(text: str = "", *, ctx: Any) -> str:
        return text

    def positional_ctx(ctx: Any = None) -> str:
        return ""

    plugin = check_module(module(ok_manifest(), [
        {"schema": {"name": "a"}, "handler": with_ctx},
        {"schema": {"name": "b"}, "handler": positional_ctx}]))
    assert [t.wants_ctx for t in plugin.tools] == [True, False]
