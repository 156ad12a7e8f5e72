"""Exception hierarchy: one root, a few subclasses that carry data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.redaction import redact


class BotError(Exception):
    """Root of every error the bot raises on purpose; its text is fit for a user."""


class ConfigError(BotError):
    """Settings are missing or malformed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plugin, pinned to the field it concerns."""

    field: str
    message: str

    def __post_init__(self) -> None:
        # plugin-controlled text (an exception's message, a value it echoes) reaches the
        # install card, `info`, App Home and the audit trail from here: masked once
        object.__setattr__(self, "message", redact(self.message))

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class DatabaseFault(ConfigError):
    """The database cannot be read or written (read-only, full, corrupt, unreachable): one
    sentence naming it and the fault. At start it stops the command (exit 2); while
    running, the surface that hit it tells the user their change was not saved. Here, not
    in the store, so that surfaces catch it without importing the store."""


class PluginError(BotError):
    """A plugin is invalid or failed; carries every problem found, not just the first."""

    def __init__(self, name: str, problems: Sequence[Problem | str]) -> None:
        self.name = name
        self.problems: tuple[Problem, ...] = tuple(
            p if isinstance(p, Problem) else Problem("", p) for p in problems
        )
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"plugin '{self.name}': {self.problems[0]}"
        lines = [f"plugin '{self.name}' has {len(self.problems)} problems:"]
        lines += [f"- {p}" for p in self.problems]
        return "\n".join(lines)


class NotFoundError(BotError):
    """A plugin or tool name that does not exist; carries close matches."""

    def __init__(self, kind: str, name: str, suggestions: Sequence[str] = ()) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = tuple(suggestions)
        from bot import messages

        super().__init__(messages.not_found(kind, name, self.suggestions))


class ConflictError(BotError):
    """An operation refused because of the current state (tool name clash, builtin removal…)."""
