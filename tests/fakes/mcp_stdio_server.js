// A local MCP server in Node, as many operators run them (npx …): newline-delimited
// JSON-RPC on stdin/stdout, speaking just enough MCP (initialize, tools/list, tools/call).
// Its one tool holds `mb` MB of JavaScript objects, so a memory limit can be felt.
"use strict";
const readline = require("readline");

const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
const held = [];

function call(params) {
  const mb = Number((params.arguments || {}).mb || 0);
  for (let i = 0; i < mb * 16; i++) {  // ~64 KB of small objects per step
    held.push(Array.from({ length: 4096 }, (_, j) => ({ j })));
  }
  return { content: [{ type: "text", text: `node ${process.version} holds ${mb} MB` }] };
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let message;
  try { message = JSON.parse(line); } catch { return; }
  if (message.id === undefined) return;  // a notification
  const { id, method, params } = message;
  if (method === "initialize") {
    send({ id, result: { protocolVersion: params.protocolVersion, capabilities: { tools: {} },
                         serverInfo: { name: "node-probe", version: "1.0.0" } } });
  } else if (method === "tools/list") {
    send({ id, result: { tools: [{ name: "node_hold", description: "Hold MB of memory.",
                                   inputSchema: { type: "object",
                                                  properties: { mb: { type: "integer" } } } }] } });
  } else if (method === "tools/call") {
    send({ id, result: call(params) });
  } else {
    send({ id, error: { code: -32601, message: `no method ${method}` } });
  }
});
