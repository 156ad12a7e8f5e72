"""An MCP server as a plugin host: the bot is a client built on the official `mcp` SDK.

One `McpSession` holds one connection. The SDK's client must be entered and left in one
task (anyio cancel scopes), so a session owns a task that opens the client, says it is
ready and waits to be told to close; calls from any task go through the open client.

The host connects lazily and again after the connection broke. A server it cannot reach (or
whose handshake does not finish in time) is an `unavailable` result, tried again after a
pause that doubles from 1 s to 60 s (calls meanwhile are told at once) and never counted
toward switching it off: a restarting server comes back by itself. A connection that breaks
under a call is a `crashed` result, which the health monitor counts like a worker crash.
`notifications/tools/list_changed` makes the host list the tools again (once for a storm of
them) and hand them to `on_tools`, which holds a list that differs from the reviewed one
for an admin (mcp_admin.py); one that came on a call's own stream is handled before that
call returns. Listing the tools has the connect timeout; no answer is read past
PLUGIN_MAX_RESPONSE_MB (mcp_limits.py). An idle connection is closed and opened again on
demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from mcp import Client, types
from mcp.shared.exceptions import MCPError

from bot import messages
from bot.errors import PluginError, Problem
from bot.plugin_host.contract.describe import describe_exception
from bot.plugin_host.contract.protocol import ErrorKind, LoadedPlugin, ToolSpec
from bot.plugin_host.contract.schemas import DEFAULT_LIMITS, SchemaLimits
from bot.plugin_host.mcp.connect import Connector, McpTarget, MessageHandler
from bot.plugin_host.mcp.tools import MAX_PAGES, describe_server, error_text, result_value
from bot.sdk import ToolContext, ToolFailure

log = logging.getLogger(__name__)

ToolsListener = Callable[[LoadedPlugin], Awaitable[None]]
StatusListener = Callable[[str | None], Awaitable[None]]  # the last error, None when well
CLOSE_SECONDS = 5.0


RETRY_FIRST, RETRY_LONGEST = 1.0, 60.0  # seconds between tries to reach a server away


class Unreachable(ToolFailure):
    """The connection broke under a call, or the server's answer broke the protocol:
    `crashed`, which the health monitor counts (a server that dies on a call, every time,
    is switched off)."""

    def __init__(self, text: str, kind: ErrorKind = ErrorKind.CRASHED) -> None:
        super().__init__(text, kind=kind, verbatim=True)


class Away(Unreachable):
    """The server could not be reached, or did not finish its handshake: `unavailable`,
    tried again with a backoff and never counted toward switching it off."""

    def __init__(self, text: str) -> None:
        super().__init__(text, kind=ErrorKind.UNAVAILABLE)


class McpSession:
    """One open connection, owned by its own task."""

    def __init__(self, connect: Connector, handler: MessageHandler) -> None:
        self.client: Client | None = None
        self.error: BaseException | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._own(connect, handler))

    async def _own(self, connect: Connector, handler: MessageHandler) -> None:
        try:
            async with connect(handler) as client:
                self.client = client
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # the handshake or the connection failed
            self.error = exc
        finally:
            self.client = None
            self._ready.set()

    @property
    def alive(self) -> bool:
        return self.client is not None and not self._task.done()

    async def opened(self, seconds: float, target: McpTarget) -> Client:
        """The connected client; Unreachable saying why not within `seconds`."""
        try:
            await asyncio.wait_for(self._ready.wait(), seconds)
        except TimeoutError:
            await self._abandon()  # stuck in the handshake: it would not end by being asked
            raise Away(messages.mcp_connect_timeout(target.label, seconds)) from None
        if self.client is None:
            raise Away(messages.mcp_unreachable(target.label, why(target, self.error)))
        return self.client

    async def _abandon(self) -> None:
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task

    async def close(self) -> None:
        """Stop the connection's task (at once if it is done; cancelled if it does not end
        within CLOSE_SECONDS, as a handshake that never finishes will not). Closing twice,
        or after the task was cancelled, is a no-op, never that task's CancelledError."""
        self._stop.set()
        if self._task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # it is we who are being cancelled
        except Exception:  # its fault is already kept in self.error
            return


class McpHost:
    """The PluginHost for one MCP server (see the module's docstring)."""

    kind = "mcp"

    def __init__(self, target: McpTarget, *, connect_timeout: float,
                 idle_seconds: float = 0, limits: SchemaLimits = DEFAULT_LIMITS,
                 on_tools: ToolsListener | None = None,
                 on_status: StatusListener | None = None) -> None:
        self.target = target
        self.connect_timeout = connect_timeout
        self.idle_seconds = idle_seconds
        self.limits = limits
        self.on_tools = on_tools
        self.on_status = on_status
        self._session: McpSession | None = None
        self._opening = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_used = time.monotonic()
        self._calls = 0  # in flight: an idle reap never cuts one off
        self._status: str | None = None  # the last state to record, and who records it
        self._reporter: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._relisting: asyncio.Task[None] | None = None
        self._again = False  # a change was announced while a listing ran
        self._closed = False
        self._away: tuple[float, float, str] | None = None  # try again at, pause, why

    async def load(self) -> LoadedPlugin:
        """Connect, and describe the server's tools (PluginError saying why not). What it
        lists goes to `on_tools` too, which holds it against what an admin reviewed."""
        try:
            client = await self._client(relist=False)
            plugin = await self._describe(client)
        except Unreachable as exc:
            raise PluginError(self.target.plugin, [Problem("", exc.text)]) from None
        self._spawn(self._announce(plugin))
        return plugin

    async def invoke(self, spec: ToolSpec, arguments: Mapping[str, Any],
                     ctx: ToolContext) -> Any:
        client = await self._client()
        self._calls += 1
        try:
            result = await client.call_tool(spec.name, dict(arguments))
        except MCPError as exc:
            if (exc.code == types.CONNECTION_CLOSED or self.target.refused_status()
                    or self.target.refusal()):
                await self._broken(exc)  # the connection, or the server's HTTP, refused it
            raise ToolFailure(messages.mcp_call_refused(exc.error.message)) from None
        except Exception as exc:  # the transport failed, or the reply broke the protocol
            await self._broken(exc)
        finally:
            self._calls -= 1
            self._last_used = time.monotonic()
        if self._tasks:  # the tool list changed meanwhile: offered before the next step
            await asyncio.wait(set(self._tasks), timeout=self.connect_timeout)
        if result.is_error:
            raise ToolFailure(error_text(result))
        return result_value(result)

    async def close(self) -> None:
        self._closed = True
        for task in [*self._tasks, *([self._reaper] if self._reaper else [])]:
            task.cancel()
        await self._drop()
        if self._reporter is not None:  # the last state is still worth recording
            await asyncio.wait({self._reporter}, timeout=CLOSE_SECONDS)

    # -- the connection ---------------------------------------------------------------

    async def _client(self, *, relist: bool = True) -> Client:
        """The open connection, made now if there is none (or it broke); a new one lists
        the tools again (`relist`), as they may have changed while there was none."""
        async with self._opening:
            if self._closed:
                raise Unreachable(messages.mcp_host_closed())
            if self._session is not None and self._session.alive:
                return self._session.client  # type: ignore[return-value]
            self._wait_while_away()
            await self._drop()
            self._session = McpSession(self.target.connect, self._on_message)
            try:
                client = await self._session.opened(self.connect_timeout, self.target)
            except Away as exc:
                self._went_away(exc.text)
                self._report(exc.text)
                raise
            self._away = None
            self._start_reaper()
        self._report(None)
        if relist:
            self._relist_soon()
        return client

    def _wait_while_away(self) -> None:
        """A server that could not be reached is not tried again before its pause is over
        (1 s, doubling to 60 s): calls meanwhile are told so at once, not each made to wait
        for the connect timeout."""
        if self._away is not None and time.monotonic() < self._away[0]:
            retry_at, _, reason = self._away
            raise Away(messages.mcp_away(reason, retry_at - time.monotonic()))

    def _went_away(self, reason: str) -> None:
        pause = min(RETRY_LONGEST, self._away[1] * 2) if self._away else RETRY_FIRST
        self._away = (time.monotonic() + pause, pause, reason)
        log.warning("MCP plugin %s: %s; trying again in %.0f s", self.target.plugin, reason,
                    pause)

    async def _broken(self, exc: BaseException) -> None:
        """The connection failed under a call: drop it (the next call reconnects)."""
        text = messages.mcp_connection_lost(self.target.label, why(self.target, exc))
        async with self._opening:
            await self._drop()
        self._report(text)
        raise Unreachable(text) from None

    async def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _report(self, error: str | None) -> None:
        """Tell `on_status` the last error (None: it answered), off the caller's path: a
        connection made inside a transaction (start-up) must not wait on its own write.
        One writer at a time, always ending on the latest state."""
        if self.on_status is None:
            return
        self._status = error
        if self._reporter is None or self._reporter.done():
            self._reporter = asyncio.create_task(self._write_status(self.on_status))

    async def _write_status(self, on_status: StatusListener) -> None:
        while True:
            error = self._status
            try:
                await on_status(error)
            except Exception:
                log.exception("MCP plugin %s: could not record its state", self.target.plugin)
            if self._status == error:
                return

    def _start_reaper(self) -> None:
        if self.idle_seconds > 0 and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.create_task(self._reap_when_idle())

    async def _reap_when_idle(self) -> None:
        while True:
            idle = 0.0 if self._calls else time.monotonic() - self._last_used
            if idle >= self.idle_seconds:
                async with self._opening:
                    await self._drop()
                log.info("MCP plugin %s: idle connection closed", self.target.plugin)
                return
            await asyncio.sleep(self.idle_seconds - idle)

    # -- tools -------------------------------------------------------------------------

    async def _describe(self, client: Client) -> LoadedPlugin:
        """The server's tools, every page, within the connect timeout (a server that never
        answers `tools/list` is said so, not waited for)."""
        try:
            tools = await asyncio.wait_for(self._list(client), self.connect_timeout)
        except TimeoutError:
            raise Unreachable(messages.mcp_list_timeout(self.target.label,
                                                        self.connect_timeout)) from None
        except MCPError as exc:
            raise Unreachable(messages.mcp_unreachable(self.target.label,
                                                       why(self.target, exc))) from None
        return describe_server(self.target.plugin, client.server_info, tools,
                               limits=self.limits, permissions=self.target.permissions)

    async def _list(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                return tools
        raise Unreachable(messages.mcp_endless_pages(MAX_PAGES))

    async def _on_message(self, message: Any) -> None:
        """The SDK's message handler: a changed tool list is listed again, off its task;
        notifications that come while a listing runs make one more listing, not one each
        (a server may send a storm of them)."""
        if isinstance(message, types.ToolListChangedNotification):
            self._relist_soon()

    def _relist_soon(self) -> None:
        if self._relisting is not None and not self._relisting.done():
            self._again = True
            return
        self._again = False
        self._relisting = self._spawn(self._relist_until_settled())

    async def _relist_until_settled(self) -> None:
        while True:
            self._again = False
            await self._relist()
            if not self._again:
                return

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        if self.on_tools is None:
            work.close()
            return None
        task = asyncio.create_task(work)
        self._tasks.add(task)  # referenced until done: a bare task may be collected
        task.add_done_callback(self._tasks.discard)
        return task

    async def _relist(self) -> None:
        try:
            plugin = await self._describe(await self._client(relist=False))
        except Exception as exc:
            log.warning("MCP plugin %s: could not list its changed tools: %s",
                        self.target.plugin, why(self.target, exc))
            return
        await self._announce(plugin)

    async def _announce(self, plugin: LoadedPlugin) -> None:
        if self.on_tools is None:
            return
        try:
            await self.on_tools(plugin)
        except Exception:
            log.exception("MCP plugin %s: could not record its listed tools",
                          self.target.plugin)


def why(target: McpTarget, exc: BaseException | None) -> str:
    """`describe_connect_error` with what `target` knows of its last connection."""
    return describe_connect_error(exc, target.refused_status(), target.last_output(),
                                  target.refusal())


def describe_connect_error(exc: BaseException | None, status: int | None = None,
                           output: str | None = None, refusal: str | None = None) -> str:
    """One line for why a connection failed: the bot's own refusal (an address off limits,
    an answer too large), the HTTP status that refused it, said plainly, or the innermost
    cause of an exception group (the SDK's task groups wrap the transport's error), with
    what a local server last wrote to stderr."""
    if refusal is not None:
        return refusal
    if status is not None:
        return messages.mcp_http_status(status)
    if output:
        return messages.mcp_with_output(_innermost(exc), output)
    return _innermost(exc)


def _innermost(exc: BaseException | None) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if exc is None:
        return "the connection closed"
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return messages.mcp_http_status(status)
    if isinstance(exc, MCPError):
        return exc.error.message
    return describe_exception(exc) if not str(exc) else f"{type(exc).__name__}: {exc}"
