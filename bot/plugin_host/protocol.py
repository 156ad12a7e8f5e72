"""The plugin contract as typed values: manifest, tool spec, tool result, caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class PluginStatus(StrEnum):
    """What became of a plugin (the database's `plugins.status`)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    ERROR = "error"


STATUS_ENABLED, STATUS_DISABLED, STATUS_ERROR = (PluginStatus.ENABLED, PluginStatus.DISABLED,
                                                 PluginStatus.ERROR)


class PluginSource(StrEnum):
    """Where a plugin's code comes from (`plugins.source`)."""

    BUILTIN = "builtin"
    UPLOAD = "upload"
    MCP = "mcp"


class ErrorKind(StrEnum):
    """Why a tool call failed (`ToolResult.error`, `tool_calls.error`)."""

    UNKNOWN_TOOL = "unknown_tool"  # no enabled plugin offers it
    BAD_ARGUMENTS = "bad_arguments"  # not JSON, not an object, or against the schema
    TIMEOUT = "timeout"  # stopped at its timeout
    FAILED = "failed"  # the handler raised
    CRASHED = "crashed"  # the worker running it died or broke the protocol
    REPEATED = "repeated"  # the agent's repeat guard refused the same call again
    DENIED = "denied"  # an approval was denied or timed out


class PluginModule(Protocol):
    """What a plugin module (or package) must define."""

    def get_manifest(self) -> dict[str, Any]: ...

    def get_tools(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str = ""
    author: str = ""
    permissions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description,
                "author": self.author, "permissions": list(self.permissions)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(name=data["name"], version=data["version"],
                   description=data.get("description", ""), author=data.get("author", ""),
                   permissions=tuple(data.get("permissions", ())))


@dataclass(frozen=True)
class ToolSpec:
    """One validated tool. `handler` is None when the tool runs elsewhere (a worker)."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    requires_approval: bool = False
    timeout: float | None = None
    handler: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    wants_ctx: bool = False

    @property
    def openai_schema(self) -> dict[str, Any]:
        """The normalised OpenAI function-calling wrapper."""
        return {"type": "function", "function": {"name": self.name,
                                                 "description": self.description,
                                                 "parameters": dict(self.parameters)}}

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description, as stored in the database and sent by workers."""
        return {"name": self.name, "description": self.description,
                "parameters": dict(self.parameters), "requires_approval": self.requires_approval,
                "timeout": self.timeout, "wants_ctx": self.wants_ctx}

    @classmethod
    def from_description(cls, data: Mapping[str, Any]) -> ToolSpec:
        return cls(name=data["name"], description=data.get("description", ""),
                   parameters=data["parameters"],
                   requires_approval=bool(data.get("requires_approval", False)),
                   timeout=data.get("timeout"), wants_ctx=bool(data.get("wants_ctx", False)))


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin whose manifest and tools validated."""

    manifest: Manifest
    tools: tuple[ToolSpec, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Caller:
    """Where a tool call comes from (a Slack thread, the console, the CLI)."""

    user: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call; failures are values, never exceptions."""

    ok: bool
    text: str
    tool: str
    plugin: str | None = None
    plugin_version: str | None = None
    error: ErrorKind | None = None
    duration_ms: float = 0.0
