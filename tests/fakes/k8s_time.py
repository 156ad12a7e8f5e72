"""Time as the fake API server's printers see it (one clock, so tests can agree)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.kube import human_duration

Obj = dict[str, Any]

NOW: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def since(value: str | None) -> str:
    """translateTimestampSince: `<unknown>` for no time."""
    if not value:
        return "<unknown>"
    return human_duration((NOW() - parse_time(value)).total_seconds())


def age(o: Obj) -> str:
    return since(o["metadata"].get("creationTimestamp"))
