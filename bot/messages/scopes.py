"""Sentences about where plugins are offered (channel scopes), their per-channel settings
and the clusters the Kubernetes plugins reach. Re-exported by `bot.messages`; import them
from there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "assignments",
    "channel_unparsable",
    "cluster_not_allowed_here",
    "cluster_unknown",
    "console_channel",
    "no_settings",
    "scope_already",
    "scope_everywhere_cannot_remove",
    "scope_kept",
    "scope_not_there",
    "scope_usage",
    "setting_key_bad",
    "setting_looks_secret",
    "setting_not_settable",
    "setting_unparsable",
    "setting_value_bad",
    "setting_value_too_long",
    "setting_widens",
    "settings_admins_only",
    "settings_changed",
    "settings_usage",
    "still_enabled",
    "tool_not_offered_here",
    "where_label",
]


def where_label(channels: Sequence[str] | None) -> str:
    """`everywhere`, or the channels (IDs, `dm`) a plugin is enabled in."""
    if channels is None:
        return "everywhere"
    return "in " + ", ".join(channels) if channels else "nowhere"


def still_enabled(name: str, channels: Sequence[str] | None) -> str:
    return f"{name} is no longer offered there; it stays enabled {where_label(channels)}."


def scope_already(name: str, channels: Sequence[str] | None) -> str:
    return f"{name} is already enabled {where_label(channels)}."


def scope_everywhere_cannot_remove(name: str) -> str:
    return (f"{name} is enabled everywhere, so it cannot be taken out of one channel. "
            f"Enable it only where it belongs (/plugin enable {name} in #channel), or "
            f"disable it.")


def scope_kept(name: str, channels: Sequence[str] | None) -> str:
    return f"{name} is disabled; when enabled it will be offered {where_label(channels)}."


def scope_not_there(name: str, channels: Sequence[str], current: Sequence[str]) -> str:
    return (f"{name} is not enabled in {', '.join(channels)} (it is "
            f"{where_label(current)}): nothing changed.")


def scope_usage() -> str:
    return ("Say where: /plugin enable NAME in #channel [#other …] (or `in dm`), "
            "/plugin enable NAME everywhere, /plugin disable NAME in #channel.")


def channel_unparsable(word: str) -> str:
    return (f"'{word[:80]}' is not a channel the bot can use: pick it with # so Slack sends "
            f"its ID, give the ID (C0123ABCD), or say dm. Nothing changed.")


def tool_no_longer_offered(plugin: str, tool: str) -> str:
    return (f"The plugin '{plugin}' no longer offers '{tool}': with its PLUGIN_CONFIG entry "
            f"as it is now, its get_tools(config) leaves it out, though it returned it when "
            f"the plugin was installed.")


def tool_not_offered_here(name: str, plugin: str) -> str:
    return (f"The tool '{name}' is not offered in this conversation: its plugin '{plugin}' "
            f"is enabled only in other channels.")


def settings_usage() -> str:
    return ("Usage: /plugin set NAME key=value [key=value …] [in #channel | everywhere]; "
            "key= (empty) removes a setting. /plugin settings NAME shows them.")


def setting_unparsable(word: str) -> str:
    return f"'{word[:80]}' is not key=value. Nothing was set."


def setting_key_bad(key: str) -> str:
    return (f"'{key[:80]}' is not a setting name: use lower-case letters, digits and _ "
            f"(up to 64). Nothing was set.")


def setting_value_too_long(key: str, limit: int) -> str:
    return f"The value of {key} is longer than {limit} characters. Nothing was set."


def setting_looks_secret(key: str) -> str:
    return (f"The value of {key} looks like a secret, and settings are shown to admins in "
            f"Slack: put it in PLUGIN_CONFIG or the cluster's secret store instead. Nothing "
            f"was set.")


def setting_not_settable(name: str, key: str, settable: Sequence[str]) -> str:
    allowed = (f"Admins may set: {', '.join(sorted(settable))}." if settable
               else f"{name} takes no settings from admins.")
    return (f"{key} of {name} is the operator's to set (PLUGIN_CONFIG), not an admin's from "
            f"Slack. {allowed} Nothing was set.")


def setting_value_bad(key: str, value: str, problem: str) -> str:
    return f"{key}={value[:80]} is refused: {key} {problem}. Nothing was set."


def setting_widens(key: str, extra: Sequence[str], bound: str, allowed: Sequence[str]) -> str:
    return (f"{key} may only narrow what the operator allowed ({bound}: "
            f"{', '.join(allowed)}); {', '.join(extra)} is not in it. Nothing was set.")


def settings_admins_only() -> str:
    return "Only admins see plugin settings (BOT_ADMIN_USERS)."


def assignments(values: Mapping[str, str]) -> str:
    """`tier=gold, owner=payments`; a key with an empty value reads `owner removed`."""
    return ", ".join(f"{key}={value}" if value else f"{key} removed"
                     for key, value in values.items())


def settings_changed(name: str, changed: Mapping[str, str], scope_text: str) -> str:
    return f"Settings of {name} {scope_text}: {assignments(changed)}."


def no_settings(name: str) -> str:
    return (f"{name} has no settings set from Slack (PLUGIN_CONFIG's are not shown). "
            f"Set one with /plugin set {name} key=value [in #channel].")


def cluster_unknown(name: str, known: Sequence[str]) -> str:
    return (f"There is no cluster '{name}' here: the kubeconfig's contexts the bot may use "
            f"are {', '.join(known) or 'none'}.")


def cluster_not_allowed_here(name: str, allowed: Sequence[str]) -> str:
    return (f"This channel is restricted to {', '.join(allowed)}: the cluster '{name}' is "
            f"not allowed here. Ask in a channel bound to it.")


def console_channel(channel: str) -> str:
    if channel == "console":
        return "Questions now come from the console: plugins enabled everywhere."
    where = "a direct message" if channel.startswith("D") else f"channel {channel}"
    return f"Questions now come from {where}: its plugins and settings apply."
