"""Runs in flight: a cap on how many run at once (with queue positions), and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from bot import messages
from bot.agent.approvals import Approver, Decision
from bot.agent.context import HistoryMessage
from bot.agent.events import Observer, Queued, ignore
from bot.agent.loop import Agent, RunResult, RunStatus
from bot.plugin_host import Caller


@dataclass
class _Slot:
    held: bool = False  # whether the run holds one of the `limit` slots right now


@dataclass
class RunHandle:
    run_id: str
    task: asyncio.Task[RunResult]

    async def result(self) -> RunResult:
        return await asyncio.shield(self.task)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class Runs:
    """Starts agent runs as tasks; at most `limit` run at once, the rest wait in order."""

    def __init__(self, agent: Agent, *, limit: int) -> None:
        self.agent = agent
        self.limit = limit
        self._running = 0
        self._waiting: list[tuple[asyncio.Future[None], Observer]] = []
        self._handles: dict[str, RunHandle] = {}
        self._notices: set[asyncio.Task[None]] = set()
        self._closed = False
        self.stopping = asyncio.Event()  # set by `shutdown`, for work that waits to wake

    def start(self, question: str, *, caller: Caller, history: Sequence[HistoryMessage] = (),
              observer: Observer = ignore, approver: Approver | None = None,
              run_id: str | None = None) -> RunHandle:
        """Start a run; `approver` decides its tool calls that need approval (the surface
        asking knows how to ask: buttons in Slack, a prompt in the console). `run_id`:
        one from `new_run_id()` the surface has shown already (its Stop button)."""
        run_id = run_id or new_run_id()
        task = asyncio.create_task(self._run(question, caller, history, observer, run_id,
                                             approver))
        handle = RunHandle(run_id, task)
        self._handles[run_id] = handle
        task.add_done_callback(lambda _: self._handles.pop(run_id, None))
        return handle

    async def ask(self, question: str, *, caller: Caller,
                  history: Sequence[HistoryMessage] = (), observer: Observer = ignore,
                  approver: Approver | None = None) -> RunResult:
        return await self.start(question, caller=caller, history=history,
                                observer=observer, approver=approver).result()

    def cancel(self, run_id: str) -> bool:
        """Stop a run: its tool calls in flight are cancelled; its result says what ran."""
        handle = self._handles.get(run_id)
        if handle is None or handle.task.done():
            return False
        handle.task.cancel()
        return True

    def shutdown(self) -> int:
        """Stop every run, running or queued, and any started from now on; returns how many
        were stopped. Their results say "cancelled" with what had run."""
        self._closed = True
        self.stopping.set()
        return sum(self.cancel(run_id) for run_id in list(self._handles))

    @property
    def closed(self) -> bool:
        """True once `shutdown` has been called."""
        return self._closed

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def _run(self, question: str, caller: Caller, history: Sequence[HistoryMessage],
                   observer: Observer, run_id: str, approver: Approver | None) -> RunResult:
        if self._closed:
            return RunResult(run_id, RunStatus.CANCELLED, messages.RUN_NOT_STARTED)
        slot = _Slot()
        try:
            async with self._slot(observer, slot):
                return await self.agent.run(question, caller=caller, history=history,
                                            observer=observer, run_id=run_id,
                                            approver=self._aside(approver, observer, slot))
        except asyncio.CancelledError:  # cancelled while still queued
            return RunResult(run_id, RunStatus.CANCELLED, messages.RUN_NOT_STARTED)

    def _aside(self, approver: Approver | None, observer: Observer,
               slot: _Slot) -> Approver | None:
        """`approver`, run with the slot given up: while a person decides, the run holds
        no slot, so waiting approvals never stall other people's questions; it queues
        for one again once the decision is in."""
        if approver is None:
            return None

        async def decide(**request: Any) -> Decision:
            self._give_up(slot)
            decision = await approver(**request)  # cancelled: it leaves without a slot
            await self._take(observer, slot)
            return decision
        return decide

    @contextlib.asynccontextmanager
    async def _slot(self, observer: Observer, slot: _Slot) -> AsyncIterator[None]:
        await self._take(observer, slot)
        try:
            yield
        finally:
            self._give_up(slot)

    async def _take(self, observer: Observer, slot: _Slot) -> None:
        """Hold a slot: at once if one is free and nobody waits, else in line."""
        if self._running >= self.limit or self._waiting:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((waiter, observer))
            await observer(Queued(len(self._waiting)))
            try:
                await waiter
            except asyncio.CancelledError:
                self._forget(waiter)
                raise
        else:
            self._running += 1
        slot.held = True

    def _give_up(self, slot: _Slot) -> None:
        if slot.held:
            slot.held = False
            self._release()

    def _release(self) -> None:
        while self._waiting:
            waiter, _ = self._waiting.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the next in line
                for position, (_, observer) in enumerate(self._waiting, start=1):
                    notice = asyncio.ensure_future(observer(Queued(position)))
                    self._notices.add(notice)
                    notice.add_done_callback(self._notices.discard)
                return
        self._running -= 1

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        self._waiting = [(w, o) for w, o in self._waiting if w is not waiter]
        if waiter.done() and not waiter.cancelled():
            self._release()  # we were handed a slot just as we were cancelled
