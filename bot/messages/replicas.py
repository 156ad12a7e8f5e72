"""Sentences about several replicas (where a plugin is loaded, archives unpacked from the
database) and about the admins' per-tool approval rules. Re-exported by `bot.messages`;
import them from there."""

from __future__ import annotations

__all__ = [
    "approval_auto_refused_for_write",
    "approval_marker",
    "approval_mode_unknown",
    "approval_rule_set",
    "approval_usage",
    "archive_corrupt",
    "loaded_on",
    "no_stored_archive",
    "not_loaded_yet",
    "replica_problem",
]


def no_stored_archive() -> str:
    return ("; the database holds no copy to unpack (installed before uploads were stored): "
            "upload it again")


def archive_corrupt(sha256: str) -> str:
    return (f"its stored upload no longer matches its sha256 ({sha256[:12]}…), so it was not "
            "unpacked: upload it again")


def loaded_on(loaded: int, replicas: int) -> str:
    return f"loaded on {loaded} of {replicas} replica{'s' if replicas != 1 else ''}"


def not_loaded_yet() -> str:
    return "not loaded yet"


def replica_problem(replica: str, problem: str) -> str:
    return f"{replica}: {problem}"


# -- per-tool approval rules (`/plugin approval TOOL required|auto|default`) -----------------

def approval_usage() -> str:
    return ("Usage: /plugin approval TOOL required|auto|default — required: every call waits "
            "for an admin; auto: none does; default: what the tool's plugin declares.")


def approval_auto_refused_for_write(tool: str, plugin: str) -> str:
    return (f"{tool} changes state ({plugin} marks it as a write): every call of it waits "
            "for an admin's approval, and no rule can waive that. Nothing was changed.")


def approval_mode_unknown(mode: str) -> str:
    return f"'{mode[:40]}' is not an approval rule: use required, auto or default."


def approval_rule_set(tool: str, mode: str, required: bool, declared: bool) -> str:
    now = "every call of it waits for an admin's approval" if required else (
        "it runs without an approval")
    if mode == "default":
        return f"{tool} follows its plugin again: {now}."
    same = " (as its plugin declares anyway)" if required == declared else ""
    return f"Rule set for {tool}: {now}{same}."


def approval_marker(required: bool, rule: bool | None) -> str:
    """How a tool's approval shows in `info` and `tools`."""
    if rule is None:
        return " [requires approval]" if required else ""
    return " [requires approval: admins' rule]" if required else " [no approval: admins' rule]"
