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
    UNAVAILABLE = "unavailable"  # its server could not be reached: tried again, not counted
    REPEATED = "repeated"  # the agent's repeat guard refused the same call again
    DENIED = "denied"  # an approval was denied or timed out


class PluginModule(Protocol):
    """What a plugin module (or package) must define."""

    def get_manifest(self) -> dict[str, Any]: ...

    def get_tools(self) -> list[dict[str, Any]]: ...


SETTING_TYPES = ("string", "integer", "boolean", "list")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class SettingSpec:
    """A config key a plugin lets admins set from Slack (`/plugin set`). Everything else
    in its config is the operator's alone (PLUGIN_CONFIG): files, URLs, limits.

    `within` names the operator's list that bounds a list setting: the admin's value must
    hold only what that list holds, when the operator set it (a setting narrows, never
    widens)."""

    type: str = "string"
    description: str = ""
    enum: tuple[str, ...] = ()
    within: str | None = None

    def parse(self, raw: str) -> Any:
        """The typed value of what an admin typed; ValueError saying what is wrong."""
        if self.type == "boolean":
            if raw.lower() not in _TRUE + _FALSE:
                raise ValueError("must be true or false")
            return raw.lower() in _TRUE
        if self.type == "integer":
            try:
                return int(raw)
            except ValueError:
                raise ValueError("must be a whole number") from None
        values = [part.strip() for part in raw.split(",") if part.strip()] \
            if self.type == "list" else [raw]
        wrong = [v for v in values if self.enum and v not in self.enum]
        if wrong:
            raise ValueError(f"must be one of {', '.join(self.enum)}")
        return values if self.type == "list" else raw

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "description": self.description,
                **({"enum": list(self.enum)} if self.enum else {}),
                **({"within": self.within} if self.within else {})}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SettingSpec:
        return cls(type=data.get("type", "string"), description=data.get("description", ""),
                   enum=tuple(data.get("enum") or ()), within=data.get("within"))


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str = ""
    author: str = ""
    permissions: tuple[str, ...] = ()
    settings: Mapping[str, SettingSpec] = field(default_factory=dict)  # what admins may set

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "description": self.description,
                "author": self.author, "permissions": list(self.permissions),
                "settings": {key: spec.to_dict() for key, spec in self.settings.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(name=data["name"], version=data["version"],
                   description=data.get("description", ""), author=data.get("author", ""),
                   permissions=tuple(data.get("permissions", ())),
                   settings={key: SettingSpec.from_dict(spec)
                             for key, spec in (data.get("settings") or {}).items()})


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
    writes: bool = False  # changes state: always waits for an approval, no rule waives it

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
                "timeout": self.timeout, "wants_ctx": self.wants_ctx, "writes": self.writes}

    @classmethod
    def from_description(cls, data: Mapping[str, Any]) -> ToolSpec:
        writes = bool(data.get("writes", False))
        return cls(name=data["name"], description=data.get("description", ""),
                   parameters=data["parameters"],
                   requires_approval=bool(data.get("requires_approval", False)) or writes,
                   timeout=data.get("timeout"), wants_ctx=bool(data.get("wants_ctx", False)),
                   writes=writes)


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
