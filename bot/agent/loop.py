"""The agent loop: ask the model, run the tools it calls, feed results back, until it answers.

The tool list is read from the registry's current snapshot at every step, and the registry
re-checks at execution, so a plugin enabled or disabled mid-run counts from the next step.
Every failure — bad arguments, unknown or disabled tool, tool error or timeout — goes back
to the model as a tool result; model failures end the run with one sentence for the user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot import messages
from bot.agent import paging
from bot.agent.approvals import Approver
from bot.agent.context import HistoryMessage, build_messages
from bot.agent.events import (
    AnswerDelta,
    Answered,
    Observer,
    Thinking,
    ToolFinished,
    ToolStarted,
    ignore,
)
from bot.agent.ledger import RunLedger, ToolCallSink
from bot.agent.llm import LLM, ModelError, Reply, ToolCall, Usage
from bot.agent.paging import Pager
from bot.logs import bind
from bot.metrics import Metrics
from bot.plugin_host import (
    MODEL_MAX_TOOLS,
    Caller,
    ErrorKind,
    Registry,
    ToolResult,
    arguments_digest,
    parse_arguments,
    scope_of,
)
from bot.records import RunUsage, ToolCallRecord
from bot.redaction import redact, redact_arguments

log = logging.getLogger(__name__)
MAX_REPEATS = 2


@dataclass(frozen=True)
class ToolRun:
    tool: str
    ok: bool
    duration_ms: float


class RunStatus(StrEnum):
    """How an agent run ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # out of steps without a final answer
    MODEL_ERROR = "model_error"
    CANCELLED = "cancelled"  # stopped by a user, or before it started
    INTERRUPTED = "interrupted"  # cancelled because the bot is shutting down
    NOT_CONFIGURED = "not_configured"
    FAILED = "failed"  # a bug in the bot: logged with the run id


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: RunStatus
    text: str
    tools: tuple[ToolRun, ...] = ()
    steps: int = 0

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.ANSWERED


@dataclass
class _RunState:
    run_id: str
    caller: Caller
    observer: Observer
    approver: Approver | None = None
    pager: Pager | None = None
    tools: list[ToolRun] = field(default_factory=list)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    steps: int = 0
    tokens: list[int] = field(default_factory=lambda: [0, 0])  # prompt, completion

    def count(self, usage: Usage | None) -> None:
        if usage is not None:
            self.tokens[0] += usage.prompt_tokens
            self.tokens[1] += usage.completion_tokens

    def summary(self) -> list[tuple[str, bool]]:
        return [(t.tool, t.ok) for t in self.tools]


class Agent:
    def __init__(self, *, llm: LLM | None, registry: Registry, tool_log: ToolCallSink | None,
                 system_prompt: str, max_steps: int = 10, context_tokens: int = 12_000,
                 approver: Approver | None = None, records: RunLedger | None = None,
                 output_limit: int = 16_000, metrics: Metrics | None = None) -> None:
        self.llm = llm
        self.metrics = metrics
        self.records = records
        self.output_limit = output_limit
        self.approver = approver
        self.registry = registry
        self.tool_log = tool_log
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.context_tokens = context_tokens

    async def run(self, question: str, *, caller: Caller,
                  history: Sequence[HistoryMessage] = (), observer: Observer = ignore,
                  run_id: str | None = None, approver: Approver | None = None) -> RunResult:
        """Answer `question`. Never raises for model or tool faults; cancellable. The run's
        `approver` (else the one the agent was built with) decides gated tool calls."""
        state = _RunState(run_id or uuid.uuid4().hex[:12], caller, observer,
                          approver or self.approver)
        if self.llm is None:
            return RunResult(state.run_id, RunStatus.NOT_CONFIGURED, messages.llm_not_configured())
        state.pager = Pager(self.records, state.run_id, self.output_limit)
        chat = build_messages(self.system_prompt, history, question,
                              budget=self.context_tokens)
        started = time.perf_counter()
        with bind(run_id=state.run_id, channel=caller.channel, thread=caller.thread_ts,
                  user=caller.user):
            result = await self._run(chat, state)
        if self.metrics is not None:
            self.metrics.count_run(str(result.status), time.perf_counter() - started,
                                   state.tokens)
        self._keep_records(state, result)
        return result

    async def _run(self, chat: list[dict[str, Any]], state: _RunState) -> RunResult:
        try:
            return await self._loop(chat, state)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return self._finish(state, RunStatus.CANCELLED, messages.run_cancelled(state.summary()))
        except ModelError as exc:
            if self.metrics is not None:
                self.metrics.model_errors.labels(kind=exc.kind).inc()
            return self._finish(state, RunStatus.MODEL_ERROR, str(exc))
        except Exception:
            log.exception("agent run %s failed", state.run_id)
            return self._finish(state, RunStatus.FAILED, messages.run_failed(state.run_id))

    def _keep_records(self, state: _RunState, result: RunResult) -> None:
        """Drop the run's kept outputs and write its token usage, after it returns."""
        if self.records is None or self.llm is None:
            return
        prompt, completion = state.tokens
        self.records.finish(RunUsage(
            run_id=state.run_id, user=state.caller.user, channel=state.caller.channel,
            model=self.llm.model, status=str(result.status), steps=state.steps,
            prompt_tokens=prompt, completion_tokens=completion),
            drop_outputs=state.pager is not None and bool(state.pager.kept))

    def _tools(self, state: _RunState) -> list[dict[str, Any]]:
        tools = self.registry.snapshot.openai_tools(scope_of(state.caller.channel))
        if state.pager is not None and state.pager.kept:  # only while there is more to read
            tools = [t for t in tools if t["function"]["name"] != paging.TOOL]
            tools.append(paging.SCHEMA)
        return tools

    async def _loop(self, chat: list[dict[str, Any]], state: _RunState) -> RunResult:
        assert self.llm is not None and state.pager is not None
        for step in range(1, self.max_steps + 1):
            state.steps = step
            last = step == self.max_steps
            tools = None if last else (self._tools(state) or None)
            if tools is not None and len(tools) > MODEL_MAX_TOOLS:  # the API would refuse
                return self._finish(state, RunStatus.NOT_CONFIGURED,
                                    messages.too_many_tools_offered(len(tools), MODEL_MAX_TOOLS))
            await _tell(state, Thinking(step))
            stream = MaskedStream(state, step)
            called = time.perf_counter()
            reply = await self.llm.complete(chat, tools, stream.add)
            if self.metrics is not None:
                self.metrics.model_seconds.observe(time.perf_counter() - called)
            state.count(reply.usage)
            if reply.tool_calls and not last:
                chat.append(_assistant_message(reply))
                results = await asyncio.gather(*(self._call(c, state)
                                                 for c in reply.tool_calls))
                chat += [{"role": "tool", "tool_call_id": call.id,  # the registry masked it
                          "content": await state.pager.for_model(call.id, result.text)}
                         for call, result in zip(reply.tool_calls, results, strict=True)]
                continue
            if reply.content and reply.content.strip():
                text = redact(reply.content.strip())
                await _tell(state, Answered(text))
                return self._finish(state, RunStatus.ANSWERED, text)
        return self._finish(state, RunStatus.NO_ANSWER,
                            messages.no_answer(self.max_steps, state.summary()))

    async def _call(self, call: ToolCall, state: _RunState) -> ToolResult:
        name, raw = call.name, call.arguments or "{}"
        key = (name, _canonical(raw))
        state.calls[key] += 1
        if state.calls[key] > MAX_REPEATS:
            return ToolResult(False, messages.repeated_call(name), name, error=ErrorKind.REPEATED)
        shown = _parse(raw)
        await _tell(state, ToolStarted(call.id, name, shown))
        started = time.perf_counter()
        tool = self.registry.snapshot.offered(name, state.caller)
        with bind(tool=name if tool else None, plugin=tool.plugin if tool else None):
            refusal, approved = await self._approval(name, raw, state)
            result = refusal or await self._invoke(name, raw, state, approved)
            duration = (time.perf_counter() - started) * 1000
            # one line per call, its run, channel, thread, user, plugin and tool as fields
            # (LOG_FORMAT=json); the arguments and output stay in the audit trail
            log.info("tool call %s: %s in %.0f ms", name,
                     "ok" if result.ok else f"failed ({result.error or 'error'})", duration)
        state.tools.append(ToolRun(name, result.ok, duration))
        if self.metrics is not None:
            self.metrics.count_tool(result, duration / 1000)
        summary = result.text.strip().splitlines()[0] if result.text.strip() else ""
        await _tell(state, ToolFinished(call.id, name, result.ok, duration, summary[:300]))
        if self.tool_log is not None:
            self.tool_log.record(ToolCallRecord(
                run_id=state.run_id, user=state.caller.user, channel=state.caller.channel,
                thread_ts=state.caller.thread_ts, tool=name, plugin=result.plugin,
                plugin_version=result.plugin_version, arguments=redact_arguments(raw),
                duration_ms=duration, outcome="ok" if result.ok else result.error or "error"))
        return result

    async def _invoke(self, name: str, raw: str, state: _RunState,
                      approved: str | None) -> ToolResult:
        if name == paging.TOOL and state.pager is not None and state.pager.kept:
            ok, text = await state.pager.read(raw)
            return ToolResult(ok, text, name, error=None if ok else ErrorKind.BAD_ARGUMENTS)
        return await self.registry.call(name, raw, state.caller, approved=approved)

    async def _approval(self, name: str, raw: str, state: _RunState
                        ) -> tuple[ToolResult | None, str | None]:
        """(None, digest) when the call may run — the digest of the arguments an admin
        approved, None when it needs no approval; otherwise the result saying why not. A
        tool not offered here never asks anyone (the registry refuses it), nor do
        arguments its schema refuses (no card for a call that cannot run)."""
        tool = self.registry.snapshot.offered(name, state.caller)
        if tool is None or not self.registry.requires_approval(tool):
            return None, None
        def refused(text: str, kind: ErrorKind) -> tuple[ToolResult, None]:
            return ToolResult(False, text, name, plugin=tool.plugin,
                              plugin_version=tool.plugin_version, error=kind), None
        if state.approver is None:
            return refused(messages.approval_unavailable(name), ErrorKind.DENIED)
        args, problem = parse_arguments(name, tool.validator, raw)
        if problem is not None:
            return refused(problem, ErrorKind.BAD_ARGUMENTS)
        digest = arguments_digest(args)
        decision = await state.approver(tool=name, arguments=redact_arguments(args),
                                       digest=digest, caller=state.caller,
                                       run_id=state.run_id)
        if decision.approved:
            return None, digest
        return refused(decision.text, ErrorKind.DENIED)

    def _finish(self, state: _RunState, status: RunStatus, text: str) -> RunResult:
        return RunResult(state.run_id, status, text, tuple(state.tools), state.steps)


class MaskedStream:
    """The answer's text as it streams, told only as far as redaction is sure of it: whole
    lines, one line behind (a secret's value can sit on the line after its key), only while
    that next line leaves the masking of the told ones unchanged, and never a PEM block
    (many lines; the whole answer comes at the end). Linear: only the untold tail is read."""

    def __init__(self, state: _RunState, step: int) -> None:
        self.state, self.step = state, step
        self.tail: list[str] = []  # pieces not told yet
        self.context = ""  # the last line told: a key there can mask a value in the next
        self.stopped = False

    async def add(self, piece: str) -> None:
        if self.stopped:
            return
        self.tail.append(piece)
        if "\n" not in piece:
            return
        lines = "".join(self.tail).split("\n")
        if len(lines) < 3:
            self.tail = ["\n".join(lines)]
            return
        settled, lookahead = "\n".join(lines[:-2]) + "\n", lines[-2] + "\n"
        before, window = redact(self.context), redact(self.context + settled)
        if ("-----begin" in (settled + lookahead).lower() or not window.startswith(before)
                or not redact(self.context + settled + lookahead).startswith(window)):
            self.stopped = True  # masking reaches across what was told: tell no more
            return
        self.tail, self.context = ["\n".join(lines[-2:])], lines[-3] + "\n"
        await _tell(self.state, AnswerDelta(self.step, window[len(before):]))


async def _tell(state: _RunState, event: object) -> None:
    try:
        await state.observer(event)  # type: ignore[arg-type]
    except Exception:
        log.exception("run %s: observer failed on %s", state.run_id, type(event).__name__)


def _assistant_message(reply: Reply) -> dict[str, Any]:
    return {"role": "assistant", "content": reply.content,
            "tool_calls": [{"id": c.id, "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}}
                           for c in reply.tool_calls]}


def _parse(raw: str) -> dict[str, Any] | str:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, dict) else raw


def _canonical(raw: str) -> str:
    value = _parse(raw)
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else raw
