"""What an MCP server's tools and results become: the same checks as every plugin's tools,
the approval default from the server's hints, results for the model; and a second process
(another replica) that picks up an MCP plugin from the database and follows `mcp add`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from mcp import types

from bot import messages
from bot.app import Services
from bot.errors import PluginError
from bot.plugin_host.contract.schemas import SchemaLimits
from bot.plugin_host.mcp.tools import default_approval, describe_server, result_value
from tests.fakes.mcp_server import McpTestServer

LIMITS = SchemaLimits()
SERVER = types.Implementation(name="vendor-mcp", version="1.2.0")


def tool(name: str, schema: dict[str, object] | None = None,
         annotations: types.ToolAnnotations | None = None) -> types.Tool:
    return types.Tool(name=name, description=f"{name} tool",
                      inputSchema=schema or {"type": "object", "properties": {}},
                      annotations=annotations)


@pytest.mark.parametrize(("hints", "required"), [
    (None, True),
    (types.ToolAnnotations(), True),
    (types.ToolAnnotations(readOnlyHint=True), False),
    (types.ToolAnnotations(readOnlyHint=True, destructiveHint=False), False),
    (types.ToolAnnotations(readOnlyHint=True, destructiveHint=True), True),
    (types.ToolAnnotations(readOnlyHint=False), True),
    (types.ToolAnnotations(destructiveHint=False), True),  # not said to only read
])
def test_an_mcp_tool_needs_approval_unless_it_only_reads(
        hints: types.ToolAnnotations | None, required: bool) -> None:
    assert default_approval(hints) is required
    plugin = describe_server("vendor", SERVER, [tool("t", annotations=hints)], limits=LIMITS)
    assert plugin.tools[0].requires_approval is required


def test_tools_failing_the_plugin_checks_are_left_out_with_why() -> None:
    tools = [tool("ok_tool"), tool("dotted.name"),
             tool("remote_ref", {"type": "object",
                                 "properties": {"x": {"$ref": "https://evil.example/s.json"}}}),
             tool("not_object", {"type": "string"}), tool("ok_tool")]
    plugin = describe_server("vendor", SERVER, tools, limits=LIMITS)
    assert [spec.name for spec in plugin.tools] == ["ok_tool"]
    assert plugin.manifest.version == "1.2.0" and plugin.manifest.author == "vendor-mcp"
    skipped = [w.split("'")[1] for w in plugin.warnings]
    assert skipped == ["dotted.name", "remote_ref", "not_object", "ok_tool"]
    assert all(w.startswith("tool '") and "is not offered: " in w for w in plugin.warnings)
    assert plugin.warnings[-1] == messages.mcp_tool_skipped("ok_tool", "listed twice")


def test_more_tools_than_the_limit_refuse_the_server() -> None:
    with pytest.raises(PluginError) as refused:
        describe_server("vendor", SERVER, [tool(f"t{i}") for i in range(3)],
                        limits=SchemaLimits(max_tools=2))
    assert messages.mcp_too_many_tools(3, 2) in str(refused.value)


def result(*content: object, structured: object = None) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), structuredContent=structured)


def text(value: str) -> types.TextContent:
    return types.TextContent(type="text", text=value)


def test_results_become_text_with_structured_content_unless_it_repeats_it() -> None:
    assert result_value(result(text("3 pods"))) == "3 pods"
    assert result_value(result(text("hi"), structured={"result": "hi"})) == "hi"
    assert result_value(result(text('{"a": 1}'), structured={"a": 1})) == '{"a": 1}'
    assert result_value(result(structured={"a": 1})) == {"a": 1}
    assert result_value(result(text("summary"), structured={"a": 1})) == 'summary\n{"a": 1}'
    assert result_value(result()) is None
    mixed = result(text("see"),
                   types.ImageContent(type="image", data="AAAA", mimeType="image/png"),
                   types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                       uri="file:///log", text="line 1")),
                   types.ResourceLink(type="resource_link", uri="file:///y", name="y"))
    assert result_value(mixed) == "\n".join([
        "see", messages.mcp_binary_content("image", "image/png", None), "line 1",
        messages.mcp_resource_link("file:///y", "y")])


async def test_another_process_offers_it_from_the_database_and_follows_mcp_add(
        agent_services: Callable[..., Awaitable[Services]]) -> None:
    first, moved = McpTestServer().start(), McpTestServer().start()
    try:
        a = await agent_services()
        await a.mcp.add("incident", first.url, {}, actor="ops")
        await a.plugins.enable("incident", actor="ops")
        b = await agent_services()  # another replica on the same database
        assert "pod_status" in b.registry.snapshot
        assert (await b.registry.call("pod_status", {"namespace": "b"})).ok
        assert first.calls == [("pod_status", {"namespace": "b"})]
        await a.mcp.add("incident", moved.url, {}, actor="ops")
        assert await b.plugins.refresh()  # the new address: its host is replaced
        assert (await b.registry.call("pod_status", {"namespace": "b2"})).ok
        assert moved.calls == [("pod_status", {"namespace": "b2"})]
        assert len(first.calls) == 1
        await a.plugins.remove("incident", actor="ops")
        await b.plugins.refresh()
        assert "pod_status" not in b.registry.snapshot
    finally:
        first.stop()
        moved.stop()
