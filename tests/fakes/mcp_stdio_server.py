"""A stdio MCP server for the tests, written with the `mcp` SDK: what the operator would
list in MCP_SERVERS. Run as `python tests/mcp_stdio_server.py`; its tools tell the tests
where it runs (uid, pid namespace, environment, network, files) and `crash` kills it."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(readOnlyHint=True)
server = MCPServer("local-probe", version="0.3.0")


@server.tool(annotations=READ_ONLY)
def where() -> dict[str, object]:
    """Where this server runs."""
    return {"uid": os.getuid(), "pid": os.getpid(), "env": sorted(os.environ),
            "greeting": os.environ.get("GREETING"), "home_visible": os.path.exists("/root"),
            "tmp": os.listdir("/tmp")}


@server.tool(annotations=READ_ONLY)
def reach(host: str, port: int) -> str:
    """Try a TCP connection."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return "connected"
    except OSError as exc:
        return f"blocked: {exc.__class__.__name__}"


@server.tool(annotations=READ_ONLY)
async def nap(seconds: float) -> str:
    """Answer after a while, as a slow query does."""
    await asyncio.sleep(seconds)
    return f"slept {seconds:g} s"


@server.tool(annotations=READ_ONLY)
def crash() -> str:
    """Exit at once, as a crashing server does."""
    sys.stdout.flush()
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
