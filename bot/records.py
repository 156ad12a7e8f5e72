"""What an agent run leaves behind, as plain values: one record per tool call, and the run's
token usage. The agent makes them and the store keeps them (bot/agent/ledger.py has the
protocols the store implements); neither imports the other for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ToolCallRecord:
    """One row of `tool_calls`, taken when the call finished."""

    run_id: str
    user: str | None
    channel: str | None
    thread_ts: str | None
    tool: str
    plugin: str | None
    plugin_version: str | None
    arguments: str
    duration_ms: float
    outcome: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class RunUsage:
    """A finished run: who asked where, the model, how it ended, and the tokens it used
    (with the votes on its answer when read back)."""

    run_id: str
    user: str | None
    channel: str | None
    model: str
    status: str
    steps: int
    prompt_tokens: int
    completion_tokens: int
    at: datetime | None = None
    good: int = 0  # 👍 on its answer
    bad: int = 0
