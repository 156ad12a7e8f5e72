"""Progress events a run emits, for Slack's status message and the console's output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Queued:
    position: int  # 1 = next to start


@dataclass(frozen=True)
class Thinking:
    step: int  # 1-based model call number


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    tool: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    tool: str
    ok: bool
    duration_ms: float
    summary: str  # first line of the result or error


@dataclass(frozen=True)
class AnswerDelta:
    """Part of the answer's text as the model writes it (streamed); the whole answer still
    comes in Answered."""

    step: int
    text: str


@dataclass(frozen=True)
class Answered:
    text: str


Event = Queued | Thinking | ToolStarted | ToolFinished | AnswerDelta | Answered
Observer = Callable[[Event], Awaitable[None]]


async def ignore(event: Event) -> None:
    """An observer that does nothing."""
