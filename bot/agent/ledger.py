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

    async def drop_outputs(self, run_id: str) -> None:
        """The run ended: its kept outputs go."""

    async def record_usage(self, usage: RunUsage) -> None:
        """The run's token usage, once it ends."""
