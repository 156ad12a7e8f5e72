"""A real MCP server for the tests, written with the official `mcp` SDK and served over
streamable HTTP by uvicorn on 127.0.0.1 (port 0), in a thread of the test process.

Its tools: `pod_status` (read-only), `restart_pod` (destructive), `grow` (adds
`extra_status` and sends `notifications/tools/list_changed` on the call's own stream, or
with `aside` on the session's standalone one, as a server does when what it offers
changes), `explode` (raises: an `isError` result). `tools/list` is paginated two
tools a page, as a server with many tools does. With `token` set it answers 401 to a
request without `Authorization: Bearer <token>`, like a real server behind auth; every
request's headers are kept in `seen_headers`.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ListToolsResult, ToolAnnotations

READ_ONLY = ToolAnnotations(readOnlyHint=True)
DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, destructiveHint=True)


class PagedServer(MCPServer):
    """`tools/list` two tools a page, the cursor being the next index."""

    page_size = 2

    async def _handle_list_tools(self, ctx: Any, params: Any) -> ListToolsResult:
        tools = await self.list_tools()
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + self.page_size
        return ListToolsResult(tools=tools[start:end],
                               next_cursor=str(end) if end < len(tools) else None)


def build_server(calls: list[tuple[str, dict[str, Any]]]) -> PagedServer:
    server = PagedServer("incident-tools", version="2.4.1")

    def extra_status(service: str) -> str:
        """Status of a service (offered once `grow` ran)."""
        calls.append(("extra_status", {"service": service}))
        return f"{service}: healthy"

    @server.tool(annotations=READ_ONLY)
    def pod_status(namespace: str) -> str:
        """Pods of a namespace and their phase."""
        calls.append(("pod_status", {"namespace": namespace}))
        return f"checkout-api-7d9f 1/1 Running in {namespace}"

    @server.tool(annotations=DESTRUCTIVE)
    def restart_pod(name: str) -> str:
        """Delete a pod so its controller recreates it."""
        calls.append(("restart_pod", {"name": name}))
        return f"pod {name} deleted"

    @server.tool(annotations=READ_ONLY)
    async def grow(ctx: Context, aside: bool = False) -> str:
        """Offer one more tool."""
        calls.append(("grow", {"aside": True} if aside else {}))
        server.add_tool(extra_status, annotations=READ_ONLY)
        if aside:  # on the session's own stream (GET), unordered with the call's answer
            await ctx.session.send_tool_list_changed()
        else:  # on the call's stream, before its answer, as the request's own notification
            await ctx.session.send_notification(types.ToolListChangedNotification(),
                                                related_request_id=ctx.request_id)
        return "now offering extra_status"

    @server.tool(annotations=READ_ONLY)
    def explode() -> str:
        """Always fails."""
        raise ValueError("the backend is on fire")

    return server


class McpTestServer:
    """The server above, started and stopped by the tests (and restartable on its port)."""

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.seen_headers: list[dict[str, str]] = []
        self.port = _free_port()
        self._uv: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> McpTestServer:
        self.mcp = build_server(self.calls)
        app = self._guarded(self.mcp.streamable_http_app())
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1, lifespan="on")
        self._uv = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uv.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uv.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test MCP server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._uv is not None and self._thread is not None:
            self._uv.should_exit = self._uv.force_exit = True
            self._thread.join(10)
            self._uv = None

    def names_called(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _guarded(self, app: Any) -> Any:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
                self.seen_headers.append(headers)
                if self.token and headers.get("authorization") != f"Bearer {self.token}":
                    await send({"type": "http.response.start", "status": 401,
                                "headers": [(b"content-type", b"application/json")]})
                    await send({"type": "http.response.body",
                                "body": b'{"error": "invalid_token"}'})
                    return
            await app(scope, receive, send)
        return guarded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
