"""Every user-facing sentence the bot says (Slack, console, CLI) is built here."""

from __future__ import annotations

from collections.abc import Sequence


def did_you_mean(suggestions: Sequence[str]) -> str:
    if not suggestions:
        return ""
    quoted = " or ".join(f"'{s}'" for s in suggestions)
    return f" Did you mean {quoted}?"


def not_found(kind: str, name: str, suggestions: Sequence[str]) -> str:
    return f"No {kind} named '{name}'.{did_you_mean(suggestions)}"


def unknown_tool(name: str, suggestions: Sequence[str]) -> str:
    return (f"No enabled plugin provides a tool named '{name}' (its plugin may be disabled or "
            f"removed).{did_you_mean(suggestions)}")


def bad_json_arguments(tool: str, error: str) -> str:
    return f"Arguments for '{tool}' are not valid JSON: {error}."


def arguments_not_object(tool: str, kind: str) -> str:
    return f"Arguments for '{tool}' must be a JSON object, got {kind}."


def invalid_arguments(tool: str, problems: Sequence[str]) -> str:
    return f"Invalid arguments for '{tool}': " + "; ".join(problems) + "."


def tool_timed_out(tool: str, seconds: float) -> str:
    return f"Tool '{tool}' timed out after {seconds:g} s and was stopped."


def tool_failed(tool: str, error: str) -> str:
    return f"Tool '{tool}' failed: {error}"


def truncated(hidden: int) -> str:
    return f"\n… [output truncated: {hidden} more characters not shown]"


def tool_clash(plugin: str, tool: str, other: str) -> str:
    return (f"Cannot enable '{plugin}': its tool '{tool}' is already provided by the enabled "
            f"plugin '{other}'. Disable '{other}' first.")


def enabled(name: str, version: str | None, tools: Sequence[str]) -> str:
    listed = ", ".join(tools) if tools else "no tools"
    return f"Enabled {name} {version or ''}".rstrip() + f" ({listed})."


def already_enabled(name: str) -> str:
    return f"{name} is already enabled."


def disabled(name: str) -> str:
    return f"Disabled {name}. Its tools are no longer offered to the agent."


def already_disabled(name: str) -> str:
    return f"{name} is already disabled."


def removed(name: str) -> str:
    return f"Removed {name}: its files and versions are gone; the audit trail is kept."


def builtin_not_removable(name: str) -> str:
    return f"'{name}' is a built-in plugin and cannot be removed; disable it instead."


def files_missing(path: str) -> str:
    return f"plugin files are missing: {path}"


def no_sandbox_for_uploads() -> str:
    return "uploaded plugins need the worker sandbox, which is not available in this process"
