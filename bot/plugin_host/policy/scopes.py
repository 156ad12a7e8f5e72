"""Where a plugin's tools are offered, and the settings admins give it per channel.

A plugin row's `channels` is None (everywhere) or a list of scopes: Slack channel IDs and
`dm` (direct messages and Agent-view threads, which live in the app's DM). A run's scope
comes from its caller's channel (`scope_of`); a tool is offered, and may run, only where
its plugin is. Settings (`/plugin set`) are kept per scope, `*` meaning everywhere, and
merged over PLUGIN_CONFIG into the handler's `ctx.config`: everywhere first, then the
run's own scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot import messages
from bot.errors import BotError, ConflictError
from bot.plugin_host.contract.protocol import SettingSpec
from bot.redaction import redact
from bot.sdk import config_list
from bot.store.models import PluginRow, PluginSettingRow, utcnow

log = logging.getLogger(__name__)

EVERYWHERE = "*"
DM = "dm"
SETTING_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VALUE_LIMIT = 500
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,31}$")
_ESCAPED = re.compile(r"^<#([CGD][A-Z0-9]{2,31})(?:\|[^>]*)?>$")  # Slack's <#C123|name>

ScopedSettings = Mapping[str, Mapping[str, str]]  # scope -> key -> value
NO_SETTINGS: ScopedSettings = MappingProxyType({})


def scope_of(channel: str | None) -> str | None:
    """The scope a run in `channel` belongs to: `dm` for a direct message (D…), the channel
    ID otherwise; None outside any conversation (`bot plugin call` without --channel)."""
    if not channel:
        return None
    return DM if channel.startswith("D") else channel


def offered_in(channels: frozenset[str] | None, scope: str | None) -> bool:
    return channels is None or (scope is not None and scope in channels)


def config_in(base: Mapping[str, Any], settings: ScopedSettings, scope: str | None,
              declared: Mapping[str, SettingSpec]) -> Mapping[str, Any]:
    """`base` (PLUGIN_CONFIG's entry, the operator's) with the admins' settings for
    everywhere, then for `scope`, on top — only those the plugin declares settable, typed,
    and only while they still narrow the operator's limits (a stored setting the operator
    has since made wider than allowed, or undeclared, is left out: the operator's value
    holds)."""
    if not settings:
        return base
    merged = dict(base)
    for layer in (settings.get(EVERYWHERE, {}), settings.get(scope, {}) if scope else {}):
        for key, raw in layer.items():
            spec = declared.get(key)
            if spec is None:
                continue
            try:
                merged[key] = _narrowing(key, spec, spec.parse(raw), base)
            except (ValueError, BotError):
                log.warning("ignoring the setting %s of a plugin: it no longer fits the "
                            "operator's limits or its declaration", key)
    return MappingProxyType(merged)


def check_settings(name: str, pairs: Mapping[str, str], declared: Mapping[str, SettingSpec],
                   operator: Mapping[str, Any]) -> None:
    """BotError saying why an admin may not set `pairs` on plugin `name`: an undeclared
    (operator-only) key, a value of the wrong type, or one that widens a limit."""
    for key, raw in pairs.items():
        spec = declared.get(key)
        if spec is None:
            raise BotError(messages.setting_not_settable(name, key, list(declared)))
        if not raw:  # removing a setting never widens: the operator's value is back
            continue
        try:
            _narrowing(key, spec, spec.parse(raw), operator)
        except ValueError as exc:
            raise BotError(messages.setting_value_bad(key, raw, str(exc))) from None


def _narrowing(key: str, spec: SettingSpec, value: Any, operator: Mapping[str, Any]) -> Any:
    """`value` if it keeps within the operator's bound for it; BotError otherwise."""
    bound = config_list(operator.get(spec.within)) if spec.within else []
    extra = [v for v in value if v not in bound] if bound else []
    if extra:
        raise BotError(messages.setting_widens(key, extra, str(spec.within), bound))
    return value


def channels_of(row: PluginRow) -> frozenset[str] | None:
    return None if row.channels is None else frozenset(str(c) for c in row.channels)


def settings_of(row: PluginRow) -> ScopedSettings:
    found: dict[str, dict[str, str]] = {}
    for setting in row.settings or ():
        found.setdefault(setting.scope, {})[setting.key] = setting.value
    return MappingProxyType({scope: MappingProxyType(v) for scope, v in found.items()})


# -- parsing what admins type ---------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    """`everywhere`, or `in` these scopes (a command's tail)."""

    channels: tuple[str, ...] = ()

    @property
    def everywhere(self) -> bool:
        return not self.channels

    @property
    def scope_keys(self) -> tuple[str, ...]:
        return self.channels or (EVERYWHERE,)

    def label(self) -> str:
        return messages.where_label(None if self.everywhere else self.channels)


def parse_channel(word: str) -> str:
    """One channel as Slack (`<#C123|name>`, `<#C123>`), an admin (`C123`, `#C123`) or the
    word `dm` gives it, as its scope; BotError when it is none of those (a bare #name:
    the command was not sent escaped, and names are not IDs)."""
    text = word.strip().rstrip(",")
    found = _ESCAPED.match(text)
    if found:
        return scope_of(found[1]) or DM
    if text.lower() == DM:
        return DM
    bare = text.removeprefix("#")
    if _CHANNEL_ID.match(bare):
        return scope_of(bare) or DM
    raise BotError(messages.channel_unparsable(word))


def parse_where(words: Sequence[str]) -> Where | None:
    """The tail after NAME: nothing (None), `everywhere`, or `in CHANNEL …` (commas or
    spaces between them). BotError names what is wrong."""
    if not words:
        return None
    head = words[0].lower()
    if head == "everywhere" and len(words) == 1:
        return Where()
    if head != "in" or len(words) == 1:
        raise BotError(messages.scope_usage())
    parts = [part for word in words[1:] for part in word.split(",") if part.strip()]
    if not parts:
        raise BotError(messages.scope_usage())
    return Where(tuple(dict.fromkeys(parse_channel(part) for part in parts)))


def split_settings(words: Sequence[str]) -> tuple[dict[str, str], Where]:
    """`key=value … [in #chan | everywhere]` as the pairs and where they apply (everywhere
    when unsaid). A value that looks like a secret is refused: settings are shown."""
    lower = [word.lower() for word in words]
    cut = next((i for i, word in enumerate(lower) if word in ("in", "everywhere")), len(words))
    where = parse_where(words[cut:]) or Where()
    pairs: dict[str, str] = {}
    for word in words[:cut]:
        key, sep, value = word.partition("=")
        if not sep:
            raise BotError(messages.setting_unparsable(word))
        if not SETTING_KEY.match(key):
            raise BotError(messages.setting_key_bad(key))
        if len(value) > VALUE_LIMIT:
            raise BotError(messages.setting_value_too_long(key, VALUE_LIMIT))
        if value and (redact(f"{key}={value}") != f"{key}={value}" or redact(value) != value):
            raise BotError(messages.setting_looks_secret(key))
        pairs[key] = value
    if not pairs:
        raise BotError(messages.settings_usage())
    return pairs, where


# -- row edits, each inside the caller's write transaction ------------------------------

def rescopes(row: PluginRow, where: Where) -> bool:
    """Whether enabling `row` `where` changes where it is offered."""
    if where.everywhere:
        return row.channels is not None
    return row.channels is None or not set(where.channels) <= set(row.channels)


def widen(row: PluginRow, where: Where) -> str | None:
    """Enable `row` also in `where` (or everywhere); the audit detail. A plugin enabled
    everywhere that is enabled `in` a channel is narrowed to it, and the detail says so."""
    if where.everywhere:
        before, row.channels = row.channels, None
        return "everywhere" + (f" (was in {', '.join(before)})" if before else "")
    if row.channels is None:
        was_everywhere = row.enabled
        row.channels = sorted(where.channels)
        return f"in {', '.join(row.channels)}" + (" (was everywhere)" if was_everywhere else "")
    row.channels = sorted({*row.channels, *where.channels})
    return f"in {', '.join(row.channels)}"


def narrow(row: PluginRow, where: Where) -> tuple[bool, str]:
    """Take `where`'s channels out of `row`'s: whether it stays enabled, and the detail.
    ConflictError when it is enabled everywhere, or not in those channels."""
    if row.channels is None:
        raise ConflictError(messages.scope_everywhere_cannot_remove(row.name))
    missing = [c for c in where.channels if c not in row.channels]
    if missing:
        raise ConflictError(messages.scope_not_there(row.name, missing, row.channels))
    left = [c for c in row.channels if c not in where.channels]
    row.channels = left or None  # out of its last channel: disabled, and everywhere next time
    return bool(left), f"out of {', '.join(where.channels)}"


def apply_settings(row: PluginRow, pairs: Mapping[str, str], where: Where, *,
                   actor: str) -> str:
    """Set (or, empty, remove) `pairs` in each of `where`'s scopes; the audit detail."""
    for scope in where.scope_keys:
        for key, value in pairs.items():
            kept = next((s for s in row.settings if s.scope == scope and s.key == key), None)
            if kept is not None and not value:
                row.settings.remove(kept)
            elif kept is not None:
                kept.value, kept.set_by, kept.set_at = value, actor, utcnow()
            elif value:
                row.settings.append(PluginSettingRow(scope=scope, key=key, value=value,
                                                     set_by=actor))
    return f"{messages.assignments(pairs)} {where.label()}"
