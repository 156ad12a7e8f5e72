"""Human approval for tools marked `requires_approval`: the protocol the agent waits on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.plugin_host.protocol import Caller


@dataclass(frozen=True)
class Decision:
    approved: bool
    by: str | None
    text: str  # what the model is told


class Approver(Protocol):
    async def __call__(self, *, tool: str, arguments: str, caller: Caller,
                       run_id: str) -> Decision: ...
