"""MCP servers as plugins: `mcp add` and review (`admin`, `review`), reaching a server
(`connect`, `limits`, `checks`, `credentials`), one connection as a plugin host (`host`),
and what a server offers as plugin values (`tools`)."""
