"""How the bot reaches an MCP server: a remote one over streamable HTTP (an admin's `mcp
add`), its header values opened only here, at connect time; a local one from MCP_SERVERS,
started in the sandbox; and the hosts the opener binds MCP plugins to."""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from bot import messages
from bot.config import LocalServer
from bot.errors import ConfigError, PluginError, Problem
from bot.plugin_host.contract.protocol import LoadedPlugin
from bot.plugin_host.contract.schemas import DEFAULT_LIMITS, SchemaLimits
from bot.plugin_host.mcp.checks import Networks, resolve_problem
from bot.plugin_host.mcp.credentials import CredentialBox
from bot.plugin_host.mcp.last_error import LastErrors
from bot.plugin_host.sandbox.confine import Sandbox, remove_tree
from bot.store.models import McpServerRow

if TYPE_CHECKING:
    from mcp import Client

    from bot.plugin_host.mcp.host import McpHost

HTTP_SECONDS, HTTP_READ_SECONDS = 30.0, 300.0  # a server's event stream may stay quiet
DEFAULT_MAX_BYTES = 4 * 2**20


class MessageHandler(Protocol):
    """What hears a server's notifications (the SDK's MessageHandlerFnT)."""

    async def __call__(self, message: Any) -> None: ...


# Opens a connected, initialised client that hands server notifications to the handler.
Connector = Callable[[MessageHandler], AbstractAsyncContextManager["Client"]]
LocalTarget = Callable[[int | None], "McpTarget"]  # a configured server, for the plugin's uid
ToolsChanged = Callable[[str, "McpHost", LoadedPlugin], Awaitable[None]]


@dataclass(frozen=True)
class McpTarget:
    """One server to reach: `label` names it in messages (the URL's host, never headers)."""

    plugin: str
    label: str
    connect: Connector
    permissions: tuple[str, ...] = ()
    # the HTTP status of the last refused request (401, 404…): the SDK keeps only a
    # generic "error response", so the transport records it for the message
    refused_status: Callable[[], int | None] = lambda: None
    # the last lines a local server wrote to stderr, for the message when it failed
    last_output: Callable[[], str | None] = lambda: None
    # why the bot itself refused the connection or an answer (an address off limits, an
    # answer over the size limit): said instead of the transport's error
    refusal: Callable[[], str | None] = lambda: None


class Refused(Exception):
    """The bot would not connect, or would not read an answer: `refusal` says why."""


def http_target(plugin: str, url: str, headers: Mapping[str, str], *,
                max_bytes: int = DEFAULT_MAX_BYTES, allow: Networks = ()) -> McpTarget:
    """A remote server over streamable HTTP. Redirects are not followed, so the headers go
    to this URL's host and nowhere else; the host's addresses are checked before every
    connection (MCP_ALLOW_CIDRS); no answer is read past `max_bytes` (an SSE stream: no
    event), so nothing too large is ever parsed or masked."""
    fixed = dict(headers)
    label = urlsplit(url).netloc
    refused: list[int] = []  # the current connection's refused POSTs
    refusals: list[str] = []

    async def note(response: Any) -> None:  # an httpx2.Response
        if response.request.method == "POST" and response.status_code >= 400:
            refused.append(response.status_code)

    def over() -> None:
        refusals.append(messages.mcp_answer_too_large(label, max_bytes))

    @asynccontextmanager
    async def connect(handler: MessageHandler) -> AsyncIterator[Client]:
        import httpx2  # the SDK's HTTP client; imported on first use (it takes 0.3 s)
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        from bot.plugin_host.mcp.limits import CappedTransport

        refused.clear()
        refusals.clear()
        problem = await resolve_problem(url, allow)
        if problem is not None:
            refusals.append(problem)
            raise Refused(problem)
        timeout = httpx2.Timeout(HTTP_SECONDS, read=HTTP_READ_SECONDS)
        capped = CappedTransport(httpx2.AsyncHTTPTransport(), max_bytes, over)
        async with httpx2.AsyncClient(headers=fixed, timeout=timeout, transport=capped,
                                      follow_redirects=False,
                                      event_hooks={"response": [note]}) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode="legacy", message_handler=handler) as client:
                yield client

    return McpTarget(plugin, label, connect,
                     refused_status=lambda: refused[-1] if refused else None,
                     refusal=lambda: refusals[-1] if refusals else None)


def stdio_target(plugin: str, server: LocalServer, sandbox: Sandbox,
                 uid: int | None) -> McpTarget:
    """A local server the operator configured, started inside the plugin sandbox with its
    declared permissions on every connect; leaving the connection stops it, and whatever
    it started goes with it (its own PID namespace, the plugin's uid reaped)."""
    network = "network" in server.permissions
    # what the server wrote to stderr: read from its live log while it runs (a crash is
    # said with its last words), kept past its workdir once it stopped
    said: dict[str, Path | str | None] = {"log": None, "text": ""}

    def stderr() -> str:
        log = said["log"]
        return _read_end(log) if isinstance(log, Path) else str(said["text"] or "")

    def last_output() -> str | None:
        return _tail(stderr()) or None

    @asynccontextmanager
    async def connect(handler: MessageHandler) -> AsyncIterator[Client]:
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters, stdio_client

        spec = sandbox.prepare_command(name=plugin, command=server.command, network=network,
                                       uid=uid, paths=server.paths, env=server.env,
                                       memory_mb=server.memory_mb)
        errlog = spec.workdir / "stderr.log"
        params = StdioServerParameters(command=spec.argv[0], args=spec.argv[1:], cwd=spec.cwd,
                                       env=spec.env)
        said.update(log=errlog, text="")
        try:
            with errlog.open("w") as errors:
                stack = contextlib.AsyncExitStack()
                try:
                    async with sandbox.launching(spec.uid):
                        client = await stack.enter_async_context(Client(
                            stdio_client(params, errlog=errors), mode="legacy",
                            message_handler=handler))
                    yield client
                finally:  # stopped and reaped under the uid's lock (Sandbox.stopping)
                    async with sandbox.stopping(spec.uid):
                        await stack.aclose()
        finally:
            said.update(log=None, text=_read_end(errlog))
            remove_tree(spec.workdir)

    memory_mb = server.memory_mb or sandbox.limits.memory_mb
    return McpTarget(plugin, f"{plugin} (MCP_SERVERS)", connect,
                     permissions=server.permissions, last_output=last_output,
                     refusal=lambda: local_cause(plugin, server.command[0], memory_mb,
                                                 stderr()))


def _read_end(path: Path, size: int = 65_536) -> str:
    """The end of what a program wrote to `path` (its last words, past a long stack)."""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, path.stat().st_size - size))
            return stream.read().decode(errors="replace")
    except OSError:
        return ""


def _tail(text: str) -> str:
    """The last lines of `text`, on one line."""
    return " | ".join(text.strip().splitlines()[-3:])[-500:]


KILLED = re.compile(r"^bot-sandbox: the program was killed by signal (\d+)$")
OUT_OF_MEMORY = re.compile(r"out of memory|failed to reserve virtual memory|cannot allocate "
                           r"memory|memoryerror|bad_alloc|heap limit|allocation failed",
                           re.IGNORECASE)


def local_cause(plugin: str, program: str, memory_mb: int, stderr: str) -> str | None:
    """Why a local server died, when what it wrote says so plainly (quoting that line, not
    the stack dump after it): out of memory under its limit, or its program not found in
    the sandbox; None to say what it wrote last."""
    for line in stderr.splitlines():
        if OUT_OF_MEMORY.search(line):
            return messages.mcp_local_out_of_memory(plugin, memory_mb, line.strip()[:300])
        if program in line and ("No such file or directory" in line or
                                line.endswith(": not found")):
            return messages.mcp_local_not_found(plugin, program, line.strip()[:300])
    killed = KILLED.match(stderr.strip().splitlines()[-1]) if stderr.strip() else None
    if killed is not None:
        return messages.mcp_local_killed(plugin, _signal_name(int(killed.group(1))), memory_mb)
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass
class McpHosts:
    """Makes the host for an MCP plugin's row. A host reports the tools its server lists
    to the `on_tools` its opener gives, and each connection's outcome to `last_errors`."""

    box: CredentialBox
    connect_timeout: float = 10.0
    idle_seconds: float = 0
    limits: SchemaLimits = DEFAULT_LIMITS
    max_bytes: int = DEFAULT_MAX_BYTES  # an answer read at most (PLUGIN_MAX_RESPONSE_MB)
    allow: Networks = ()  # MCP_ALLOW_CIDRS
    local: Mapping[str, LocalTarget] = field(default_factory=dict)  # MCP_SERVERS
    last_errors: LastErrors | None = None

    def host(self, name: str, server: McpServerRow | None, uid: int | None = None, *,
             on_tools: ToolsChanged | None = None) -> McpHost:
        """The (unconnected) host for plugin `name`; PluginError when it cannot be made."""
        from bot.plugin_host.mcp.host import McpHost

        target = self.target(name, server, uid)
        host = McpHost(target, connect_timeout=self.connect_timeout,
                       idle_seconds=self.idle_seconds, limits=self.limits)
        if on_tools is not None:
            host.on_tools = lambda plugin: on_tools(name, host, plugin)
        if self.last_errors is not None:
            last_errors = self.last_errors
            host.on_status = lambda error: last_errors.record(name, error)
        return host

    def target(self, name: str, server: McpServerRow | None, uid: int | None) -> McpTarget:
        if server is None:
            raise PluginError(name, [Problem("mcp", messages.mcp_row_missing())])
        if server.transport == "stdio":
            make = self.local.get(name)
            if make is None:
                raise PluginError(name, [Problem("MCP_SERVERS", messages.mcp_not_configured(
                    name))])
            return make(uid)
        headers: dict[str, Any] = {}
        if server.sealed_headers:
            try:
                headers = self.box.open(server.sealed_headers)
            except ConfigError as exc:
                raise PluginError(name, [Problem("headers", str(exc))]) from None
        return http_target(name, server.url or "", headers, max_bytes=self.max_bytes,
                           allow=self.allow)
