"""The public SDK for plugin authors: the only part of `bot` a plugin may import.

A handler that declares a keyword-only `ctx` parameter receives a `ToolContext`::

    def whoami(*, ctx: ToolContext) -> str:
        ctx.logger.info("asked by %s", ctx.user)
        return f"you are {ctx.user} in {ctx.channel}"
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["PERMISSIONS", "ToolContext", "ToolError", "ToolFailure", "child_environment",
           "config_list"]  # docs/plugins.md, "The SDK, name by name", documents each

#: Permissions a manifest may ask for. The sandbox grants nothing that is not listed.
PERMISSIONS: Mapping[str, str] = MappingProxyType(
    {"network": "open network connections (otherwise the sandbox has no network)"}
)
#: What a plugin's name (its manifest's `name`, its package) must match.
PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class ToolContext:
    """Who called a tool and from where, plus the plugin's own config and logger."""

    user: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    run_id: str | None = None
    plugin: str | None = None
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("plugin"))


class ToolFailure(Exception):
    """A tool call that failed in a known way. `kind` goes into the result (`failed`,
    `crashed`, …); `text` is shown to the model as written when `verbatim`, else after
    "Tool 'x' failed: ". The bot raises subclasses; plugins raise `ToolError`."""

    def __init__(self, text: str, *, kind: str = "failed", verbatim: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.kind = kind
        self.verbatim = verbatim


class ToolError(ToolFailure):
    """Raise this to report a failure in your own words: the model sees exactly the message
    (no exception type, no file and line), e.g. `raise ToolError("namespace 'x' not found")`.
    Any other exception is reported as `Type: message (file.py:line)`."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="failed", verbatim=True)


def config_list(value: Any) -> list[str]:
    """A config value that lists names: a JSON list (PLUGIN_CONFIG) or names separated by
    commas (what `/plugin set key=a,b` stores); empty when unset."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(part) for part in value]
    return [str(value)]


CHILD_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "KUBECONFIG",
                  "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


def child_environment(**extra: str) -> dict[str, str]:
    """An explicit, minimal environment for a program a plugin runs (never a copy of the
    bot's, which holds its Slack, model and database secrets)."""
    env = {key: os.environ[key] for key in CHILD_ENV_KEYS if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env | extra
