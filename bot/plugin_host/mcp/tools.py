"""What an MCP server offers, as plugin values: its tools as validated `ToolSpec`s (checked
exactly like an upload's), its results as tool results. Pure functions of the SDK's types."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp import types

from bot import messages
from bot.errors import PluginError, Problem
from bot.plugin_host.contract.protocol import LoadedPlugin, Manifest, ToolSpec
from bot.plugin_host.contract.schemas import SchemaLimits
from bot.plugin_host.contract.validation import validate_tools

MAX_PAGES = 100  # tools/list pages followed before the server is called broken
VERSION_CHARS = 64  # plugin_versions.version


def default_approval(annotations: types.ToolAnnotations | None) -> bool:
    """An MCP tool waits for an admin unless its server says it only reads: annotated
    `readOnlyHint: true` and not `destructiveHint: true` (the hints are the server's say,
    so anything less than both is treated as a change)."""
    if annotations is None:
        return True
    return not (annotations.read_only_hint is True and annotations.destructive_hint is not True)


def describe_server(plugin: str, server: types.Implementation | None,
                    tools: Sequence[types.Tool], *, limits: SchemaLimits,
                    permissions: tuple[str, ...] = ()) -> LoadedPlugin:
    """The plugin an MCP server makes: one tool per valid MCP tool. A tool whose name or
    schema fails the checks every plugin's tools pass is left out, with a warning saying
    why; more tools than PLUGIN_MAX_TOOLS refuse the whole server."""
    if len(tools) > limits.max_tools:
        raise PluginError(plugin, [Problem("tools/list",
                                           messages.mcp_too_many_tools(len(tools),
                                                                       limits.max_tools))])
    specs: list[ToolSpec] = []
    warnings: list[str] = []
    for tool in tools:
        problems: list[Problem] = []
        valid, _ = validate_tools([_as_tool_item(tool)], problems, limits=limits)
        if problems:
            warnings.append(messages.mcp_tool_skipped(tool.name, str(problems[0])))
        elif any(spec.name == tool.name for spec in specs):
            warnings.append(messages.mcp_tool_skipped(tool.name, "listed twice"))
        else:
            specs.extend(valid)
    version = (server.version if server and server.version else "0")[:VERSION_CHARS]
    name = server.name if server else plugin
    description = (server.description or server.title) if server else None
    manifest = Manifest(name=plugin, version=version, author=name,
                        description=description or messages.mcp_description(name),
                        permissions=permissions)
    return LoadedPlugin(manifest, tuple(specs), tuple(warnings))


def _as_tool_item(tool: types.Tool) -> dict[str, Any]:
    """An MCP tool in the shape `get_tools()` returns, so it meets the same validation."""
    return {"schema": {"name": tool.name,
                       "description": tool.description or tool.title or "",
                       "parameters": tool.input_schema},
            "handler": {"callable": True, "wants_ctx": False},
            "requires_approval": default_approval(tool.annotations),
            "writes": bool(tool.annotations and tool.annotations.destructive_hint)}


def result_value(result: types.CallToolResult) -> str | Any:
    """A successful call's outcome for the model: its text, with the structured content
    after it unless that only repeats the text (the SDK sends both for one value)."""
    text = "\n".join(part for part in (_content_text(c) for c in result.content) if part)
    structured = result.structured_content
    if structured is None:
        return text or None
    if not text:
        return structured
    if _repeats(text, structured):
        return text
    return text + "\n" + json.dumps(structured, ensure_ascii=False, default=str)


def error_text(result: types.CallToolResult) -> str:
    """What a call with `isError` said, for the error result."""
    text = "\n".join(part for part in (_content_text(c) for c in result.content) if part)
    return text or messages.mcp_error_without_text()


def _content_text(block: Any) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        return messages.mcp_binary_content("resource", resource.mime_type, str(resource.uri))
    if isinstance(block, types.ResourceLink):
        return messages.mcp_resource_link(str(block.uri), block.name)
    if isinstance(block, types.ImageContent | types.AudioContent):
        return messages.mcp_binary_content(block.type, block.mime_type, None)
    return ""


def _repeats(text: str, structured: Any) -> bool:
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return bool(structured == parsed or structured == {"result": parsed})
