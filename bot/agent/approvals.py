"""Human approval for tools marked `requires_approval`: the protocol the agent waits on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.plugin_host import Caller


@dataclass(frozen=True)
class Decision:
    approved: bool
    by: str | None
    text: str  # what the model is told


class Approver(Protocol):
    """Asks a person whether `tool` may run with `arguments` (masked, for showing);
    `digest` is the SHA-256 of the exact arguments, which the approval is bound to."""

    async def __call__(self, *, tool: str, arguments: str, digest: str, caller: Caller,
                       run_id: str) -> Decision: ...
