"""What the agent needs from storage, as protocols it owns: somewhere to log each tool
call, and a ledger for the run (whole outputs kept for paging, the usage at the end). The
store implements them (ToolCallLog, RunRecords); the agent never imports the store."""

from __future__ import annotations

from typing import Protocol

from bot.records import RunUsage, ToolCallRecord


class ToolCallSink(Protocol):
    def record(self, row: ToolCallRecord) -> None:
        """Queue one call's record; never blocks the run on a write."""


class RunLedger(Protocol):
    async def keep(self, run_id: str, call_id: str, text: str) -> bool:
        """Keep a whole output for the run; False when the run's budget is spent."""

    async def output(self, run_id: str, call_id: str) -> str | None:
        """A kept output, or None."""

    def finish(self, usage: RunUsage, *, drop_outputs: bool) -> None:
        """The run ended: write its token usage (and drop its kept outputs) in the
        background; the answer is not held back by the write."""
