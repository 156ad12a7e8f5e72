"""The tool registry: an immutable snapshot `tool name -> Tool`, swapped atomically.

Readers take `registry.snapshot` once and keep a consistent view for as long as they hold
it; every change builds a new snapshot and publishes it with one reference assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import difflib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot import messages
from bot.plugin_host.contract.describe import describe_exception
from bot.plugin_host.contract.protocol import Caller, ErrorKind, SettingSpec, ToolResult, ToolSpec
from bot.plugin_host.contract.schemas import compile_validator
from bot.plugin_host.policy.scopes import (
    NO_SETTINGS,
    ScopedSettings,
    config_in,
    offered_in,
    scope_of,
)
from bot.redaction import redact
from bot.sdk import ToolContext, ToolFailure

log = logging.getLogger(__name__)

Invoke = Callable[[ToolSpec, Mapping[str, Any], ToolContext], Awaitable[Any]]
ResultListener = Callable[["Tool", ToolResult], Awaitable[None]]


@dataclass(frozen=True)
class Tool:
    """A tool as the agent sees it, bound to the host that runs it."""

    spec: ToolSpec
    plugin: str
    plugin_version: str
    invoke: Invoke = field(repr=False, compare=False)
    timeout: float
    config: Mapping[str, Any] = field(default_factory=dict)
    validator: Any = field(default=None, repr=False, compare=False)
    channels: frozenset[str] | None = None  # where it is offered (scopes.py); None: everywhere
    settings: ScopedSettings = field(default_factory=lambda: NO_SETTINGS)  # per scope, over config
    settable: Mapping[str, SettingSpec] = field(default_factory=dict)  # its manifest's

    @classmethod
    def bind(cls, spec: ToolSpec, *, plugin: str, plugin_version: str, invoke: Invoke,
             default_timeout: float, config: Mapping[str, Any] | None = None,
             channels: frozenset[str] | None = None, settings: ScopedSettings = NO_SETTINGS,
             settable: Mapping[str, SettingSpec] | None = None) -> Tool:
        return cls(spec=spec, plugin=plugin, plugin_version=plugin_version, invoke=invoke,
                   timeout=spec.timeout or default_timeout,
                   config=MappingProxyType(dict(config or {})),
                   validator=compile_validator(dict(spec.parameters)),
                   channels=channels, settings=settings, settable=settable or {})

    def offered_in(self, scope: str | None) -> bool:
        return offered_in(self.channels, scope)


# The most tools one chat completion request may carry (OpenAI's and Azure OpenAI's limit:
# more is a 400 for every question).
MODEL_MAX_TOOLS = 128


class Snapshot:
    """A frozen view of the enabled tools; `generation` grows with every publish."""

    __slots__ = ("_openai", "_scoped", "_tools", "generation")

    def __init__(self, tools: Iterable[Tool] = (), *, generation: int = 0) -> None:
        by_name = {tool.spec.name: tool for tool in tools}
        self._tools: Mapping[str, Tool] = MappingProxyType(by_name)
        self._openai = tuple(tool.spec.openai_schema for tool in by_name.values())
        self._scoped = any(tool.channels is not None for tool in by_name.values())
        self.generation = generation

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def tools(self) -> Mapping[str, Tool]:
        return self._tools

    def openai_tools(self, scope: str | None = None) -> list[dict[str, Any]]:
        """The `tools` list for a chat completion request in `scope` (scopes.scope_of):
        the tools of plugins enabled everywhere or there."""
        if not self._scoped:  # decided once per publish, not at every model call
            return list(self._openai)
        return [tool.spec.openai_schema for tool in self._tools.values()
                if tool.offered_in(scope)]

    def offered(self, name: str, caller: Caller | None) -> Tool | None:
        """`name`'s tool if a run from `caller` may call it."""
        tool = self._tools.get(name)
        scope = scope_of(caller.channel if caller else None)
        return tool if tool is not None and tool.offered_in(scope) else None


class Registry:
    """Holds the current snapshot and runs tool calls; `call` never raises for tool faults."""

    def __init__(self, *, output_limit: int = 16_000) -> None:
        self.output_limit = output_limit
        self._snapshot = Snapshot()
        self._listeners: list[ResultListener] = []
        # outcomes the listeners (health, metrics) are still to hear, in call order
        self._outcomes: asyncio.Queue[tuple[Tool, ToolResult]] | None = None
        self._teller: asyncio.Task[None] | None = None
        self._approval_rules: Mapping[str, bool] = {}

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def set_approval_rules(self, rules: Mapping[str, bool]) -> None:
        """The admins' per-tool rules (bot/plugin_host/policy/approval_rules.py)."""
        self._approval_rules = dict(rules)

    def requires_approval(self, tool: Tool) -> bool:
        """Whether a call of `tool` waits for an admin: its rule, else its plugin's say; a
        tool its plugin marks as a write always does (no rule waives that)."""
        if tool.spec.writes:
            return True
        return self._approval_rules.get(tool.spec.name, tool.spec.requires_approval)

    def publish(self, tools: Iterable[Tool]) -> Snapshot:
        """Replace the snapshot with one holding exactly `tools`."""
        snapshot = Snapshot(tools, generation=self._snapshot.generation + 1)
        self._snapshot = snapshot
        return snapshot

    def add_listener(self, listener: ResultListener) -> None:
        """Be told the outcome of every call that reached a tool (for health, metrics), in
        call order, off the call's path: a call returns its result at once."""
        self._listeners.append(listener)

    async def settled(self) -> None:
        """Wait until the listeners have heard every outcome so far."""
        if self._outcomes is not None:
            await self._outcomes.join()

    async def close(self) -> None:
        """Tell the listeners what is left, then stop telling."""
        await self.settled()
        if self._teller is not None:
            self._teller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._teller

    async def call(self, name: str, arguments: str | Mapping[str, Any] | None = None,
                   caller: Caller | None = None, *, approved: str | None = None
                   ) -> ToolResult:
        """Run tool `name` for `caller`. `approved`: the digest of the arguments an admin
        approved; the call runs only with exactly those (`arguments_digest`)."""
        started = time.perf_counter()
        caller = caller or Caller()
        snapshot = self._snapshot
        tool = snapshot.offered(name, caller)
        if tool is None:
            return self._not_offered(snapshot, name, caller)
        args, problem = parse_arguments(tool.spec.name, tool.validator, arguments)
        if problem is not None:
            return await self._result(tool, False, problem, started,
                                      error=ErrorKind.BAD_ARGUMENTS)
        if approved is not None and arguments_digest(args) != approved:
            log.warning("refused %s: its arguments are not the ones approved", name)
            return await self._result(tool, False, messages.approval_arguments_changed(name),
                                      started, error=ErrorKind.DENIED)
        scope = scope_of(caller.channel)
        ctx = ToolContext(user=caller.user, channel=caller.channel, thread_ts=caller.thread_ts,
                          run_id=caller.run_id, plugin=tool.plugin,
                          config=config_in(tool.config, tool.settings, scope, tool.settable),
                          logger=logging.getLogger(f"plugin.{tool.plugin}"))
        ok, text, error = await _outcome(tool, args, ctx)
        result = await self._result(tool, ok, text, started, error=error)
        self._notify(tool, result)
        return result

    def _not_offered(self, snapshot: Snapshot, name: str, caller: Caller) -> ToolResult:
        """No such tool, or one whose plugin is enabled only in other conversations: a run
        is never told about tools it cannot call."""
        elsewhere = snapshot.get(name)
        if elsewhere is not None:
            log.warning("refused %s from %s: plugin %s is not enabled there", name,
                        caller.channel or "outside any channel", elsewhere.plugin)
            return ToolResult(False, messages.tool_not_offered_here(name, elsewhere.plugin),
                              name, plugin=elsewhere.plugin, error=ErrorKind.UNKNOWN_TOOL)
        scope = scope_of(caller.channel)
        offered = [n for n, tool in snapshot.tools.items() if tool.offered_in(scope)]
        return ToolResult(False, messages.unknown_tool(name, difflib.get_close_matches(
            name, offered, n=2)), name, error=ErrorKind.UNKNOWN_TOOL)

    async def _result(self, tool: Tool, ok: bool, text: str, started: float, *,
                      error: ErrorKind | None = None) -> ToolResult:
        """Every result is masked here, once, before anything (the model, Slack, the CLI,
        the audit trail) sees it — and before truncation, which could cut a secret in two."""
        return ToolResult(ok=ok, text=truncate(await mask(text, self.output_limit),
                                               self.output_limit),
                          tool=tool.spec.name, plugin=tool.plugin,
                          plugin_version=tool.plugin_version, error=error,
                          duration_ms=(time.perf_counter() - started) * 1000)

    def _notify(self, tool: Tool, result: ToolResult) -> None:
        """Queue the outcome for the listeners (a failure count is a database write, an
        auto-disable a plugin transition: neither is the caller's to wait for)."""
        if not self._listeners:
            return
        if self._outcomes is None or self._teller is None or self._teller.done():
            self._outcomes = self._outcomes or asyncio.Queue()
            # its own context: the first caller's log fields (run, user) are not its
            self._teller = asyncio.create_task(self._tell(self._outcomes),
                                               context=contextvars.Context())
        self._outcomes.put_nowait((tool, result))

    async def _tell(self, outcomes: asyncio.Queue[tuple[Tool, ToolResult]]) -> None:
        while True:
            tool, result = await outcomes.get()
            try:
                await tell_all(self._listeners, tool, result,
                               what=f"result listener for {tool.spec.name}")
            finally:
                outcomes.task_done()


MASK_MARGIN = 64 * 1024  # past the kept limit: room for a secret that straddles it
MASK_IN_THREAD = 64 * 1024  # longer texts are masked off the event loop


async def mask(text: str, limit: int) -> str:
    """`text` redacted, as far as `limit` will keep of it: what lies past the limit and a
    margin is dropped first (it would be cut anyway, and masking it costs time), and a
    long text is masked in a thread so that the event loop keeps answering Slack."""
    text = text[:limit + MASK_MARGIN]
    if len(text) > MASK_IN_THREAD:
        return await asyncio.to_thread(redact, text)
    return redact(text)


async def _outcome(tool: Tool, args: Mapping[str, Any], ctx: ToolContext
                   ) -> tuple[bool, str, ErrorKind | None]:
    """Run the handler: (ok, text, error kind); a fault of the tool's is a value here."""
    name = tool.spec.name
    try:
        value = await asyncio.wait_for(tool.invoke(tool.spec, args, ctx), tool.timeout)
    except TimeoutError:
        return False, messages.tool_timed_out(name, tool.timeout), ErrorKind.TIMEOUT
    except ToolFailure as exc:  # a ToolError (the plugin's own words) or a worker fault
        text = exc.text if exc.verbatim else messages.tool_failed(name, exc.text)
        return False, text, _kind(exc.kind)
    except Exception as exc:
        log.warning("tool %s (plugin %s) raised", name, tool.plugin, exc_info=True)
        return False, messages.tool_failed(name, describe_exception(exc)), ErrorKind.FAILED
    try:
        return True, render_value(value), None
    except (RecursionError, ValueError, TypeError):
        return False, messages.tool_result_unrenderable(name), ErrorKind.FAILED


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """The SHA-256 of a call's arguments in canonical JSON: what an approval is bound to."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def render_value(value: Any) -> str:
    """A tool's return value as text for the model: a string as it is, anything else as
    JSON; RecursionError for data nested too deeply to serialise (refused at once)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "(no output)"
    return json.dumps(value, ensure_ascii=False, default=str)


def _kind(kind: str) -> ErrorKind:
    """A failure's kind: a plugin may name any, the result keeps the ones there are."""
    try:
        return ErrorKind(kind)
    except ValueError:
        return ErrorKind.FAILED


async def tell_all(listeners: Iterable[Callable[..., Awaitable[None]]], *args: Any,
                   what: str) -> None:
    """Call each listener in turn; one that fails is logged and never stops the others."""
    for listener in listeners:
        try:
            await listener(*args)
        except Exception:
            log.exception("%s failed", what)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with a visible marker."""
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 0)
    return text[:keep] + messages.truncated(len(text) - keep)


def parse_arguments(name: str, validator: Any, arguments: str | Mapping[str, Any] | None
                    ) -> tuple[dict[str, Any], str | None]:
    """A tool call's arguments as a dict checked against the tool's schema `validator`, or
    the sentence that tells the model what is wrong with them."""
    if arguments is None or arguments == "":
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return {}, messages.bad_json_arguments(name, str(exc))
    if not isinstance(arguments, Mapping):
        return {}, messages.arguments_not_object(name, type(arguments).__name__)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if errors:
        problems = [(".".join(str(p) for p in e.path) + ": " if e.path else "") + e.message
                    for e in errors]
        return {}, messages.invalid_arguments(name, problems)
    return dict(arguments), None

