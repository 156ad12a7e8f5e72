"""A fake OpenAI-compatible API on 127.0.0.1, for the bot's model client and the `openai` SDK.

Serves `POST /v1/chat/completions` (streamed as server-sent `chat.completion.chunk` events
when asked, as OpenAI streams: content and tool-call arguments split across chunks, `usage`
last with `stream_options.include_usage`), Azure OpenAI's
`POST /openai/deployments/{name}/chat/completions?api-version=…` with its `api-key` header,
and `GET /v1/models`. Each test scripts the responses
(completions, tool calls, errors with OpenAI's error bodies and headers, delays, raw
non-JSON bodies, a dropped connection); every request body and its headers are recorded.
`api_key=None` plays a local server that wants no key. Answers follow the public API: a
`chat.completion` object, and errors as `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.base import FakeHTTPService, QuietHandler

MODEL = "gpt-4o-mini"


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # sent as is instead of `body` (an HTML page, broken JSON)
    drop: bool = False  # close the connection without answering


class FakeOpenAI(FakeHTTPService):
    def __init__(self, *, api_key: str | None = "sk-test-key", port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[Message] = []
        self.paths: list[str] = []
        self._script: deque[Scripted | Callable[[dict[str, Any]], Scripted]] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.default: Callable[[dict[str, Any]], Scripted] | None = None
        self.streaming = "yes"  # "refuse": 400 to stream=true; "ignore": answer plain JSON
        self.rejected: list[tuple[str, str | None]] = []  # requests the API would refuse
        super().__init__(port)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- scripting -----------------------------------------------------------------------

    def reply(self, content: str | None = None, *, tool_calls: list[dict[str, Any]] | None
              = None, delay: float = 0.0) -> None:
        """Queue one assistant message (text, tool calls, or both)."""
        self._script.append(Scripted(body=self.completion(content, tool_calls),
                                     delay=delay))

    def fail(self, status: int, *, message: str | None = None, code: str | None = None,
             kind: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Queue an error exactly as OpenAI sends it."""
        defaults = {
            401: ("Incorrect API key provided: sk-wro*****ong. You can find your API key at "
                  "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                  "invalid_api_key"),
            404: (f"The model `{MODEL}` does not exist or you do not have access to it.",
                  "invalid_request_error", "model_not_found"),
            429: ("Rate limit reached for gpt-4o-mini in organization org-test on requests "
                  "per min (RPM): Limit 3, Used 3, Requested 1.", "requests",
                  "rate_limit_exceeded"),
            500: ("The server had an error while processing your request. Sorry about that!",
                  "server_error", None),
        }
        d_message, d_kind, d_code = defaults.get(status, ("error", "server_error", None))
        body = {"error": {"message": message or d_message, "type": kind or d_kind,
                          "param": None, "code": code if code is not None else d_code}}
        self._script.append(Scripted(status=status, body=body, headers=headers or {}))

    def respond_with(self, handler: Callable[[dict[str, Any]], Scripted]) -> None:
        self._script.append(handler)

    @staticmethod
    def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None
                  ) -> dict[str, Any]:
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return {"id": call_id or f"call_{name}_{abs(hash(args)) % 10**8}", "type": "function",
                "function": {"name": name, "arguments": args}}

    def completion(self, content: str | None, tool_calls: list[dict[str, Any]] | None = None
                   ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {"id": f"chatcmpl-fake{next(self._ids)}", "object": "chat.completion",
                "created": int(time.time()), "model": MODEL, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if tool_calls else "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

    # -- what the bot sent ---------------------------------------------------------------

    def tool_names(self, request_index: int) -> list[str]:
        tools = self.requests[request_index].get("tools") or []
        return [t["function"]["name"] for t in tools]

    def messages(self, request_index: int) -> list[dict[str, Any]]:
        return self.requests[request_index]["messages"]

    # -- HTTP ----------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Scripted:
        with self._lock:
            item = self._script.popleft() if self._script else None
        if item is None:
            if self.default is not None:
                return self.default(body)
            return Scripted(status=500, body={"error": {
                "message": "fake OpenAI: the test's script is exhausted", "type": "server_error",
                "param": None, "code": None}}, headers={"x-should-retry": "false"})
        return item(body) if callable(item) else item

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None, raw: bytes | None = None
                      ) -> None:
                data = json.dumps(body).encode() if raw is None else raw
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if raw is None
                                 else "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self._headers_buffer.append(b"\r\n")  # end_headers() without its flush
                self._headers_buffer.append(data)  # one write: headers and body together
                self.flush_headers()

            def _authorised(self) -> bool:
                if fake.api_key is None or (
                        self.headers.get("Authorization") == f"Bearer {fake.api_key}"):
                    return True
                self._send(401, {"error": {
                    "message": "Incorrect API key provided. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error", "param": None,
                    "code": "invalid_api_key"}})
                return False

            def do_GET(self) -> None:
                fake.paths.append(self.path)
                if self.path != "/v1/models":
                    self._send(404, {"error": {"message": "Not found", "type":
                                               "invalid_request_error", "param": None,
                                               "code": None}})
                elif self._authorised():
                    self._send(200, {"object": "list", "data": [
                        {"id": MODEL, "object": "model", "created": 0,
                         "owned_by": "system"}]})

            def do_POST(self) -> None:
                fake.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path, _, query_text = self.path.partition("?")  # as sent: a proxy gets URLs
                query = parse_qs(query_text)
                azure = AZURE_PATH.fullmatch(path)
                if path != "/v1/chat/completions" and not azure:
                    self._send(404, {"error": {"message": f"Unknown path {self.path}",
                                               "type": "invalid_request_error", "param": None,
                                               "code": None}})
                    return
                fake.requests.append(body)
                fake.request_headers.append(self.headers)  # names match in any case
                if azure and not query.get("api-version"):
                    self._send(404, {"error": {"code": "404", "message": "Resource not found"}})
                    return
                if not (self._azure_authorised() if azure else self._authorised()):
                    return
                problem = request_problem(body)
                if problem is not None:  # as the real API: 400, nothing scripted is used
                    fake.rejected.append(problem)
                    self._send(400, {"error": {"message": problem[0], "type":
                                               "invalid_request_error", "param": problem[1],
                                               "code": None}})
                    return
                if body.get("stream") and fake.streaming == "refuse":
                    self._send(400, {"error": {"message": "Streaming is not supported by this "
                                               "server.", "type": "invalid_request_error",
                                               "param": "stream", "code": None}})
                    return
                scripted = fake._next(body)
                if scripted.delay:
                    time.sleep(scripted.delay)
                if scripted.drop:
                    self.close_connection = True
                    return
                if (body.get("stream") and fake.streaming == "yes" and scripted.status == 200
                        and scripted.raw is None):
                    self._stream(scripted.body, body.get("stream_options") or {})
                    return
                self._send(scripted.status, scripted.body, scripted.headers, scripted.raw)

            def _azure_authorised(self) -> bool:
                if fake.api_key is None or self.headers.get("api-key") == fake.api_key:
                    return True
                self._send(401, {"error": {"code": "401", "message": "Access denied due to "
                                           "invalid subscription key or wrong API endpoint."}})
                return False

            def _stream(self, completion: dict[str, Any], options: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for chunk in stream_chunks(completion, bool(options.get("include_usage"))):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        return Handler


AZURE_PATH = re.compile(r"/openai/deployments/[^/]+/chat/completions")


ROLES = ("system", "developer", "user", "assistant", "tool")
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]+")
MAX_TOOLS = 128


def request_problem(body: dict[str, Any]) -> tuple[str, str | None] | None:
    """What the real chat completions API would refuse in `body` (its message and `param`),
    checked as strictly as it checks: the conversation's shape and the tools' names."""
    if not body.get("model"):
        return "you must provide a model parameter", None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return f"{json.dumps(messages)} is too short - 'messages'", "messages"
    return _conversation_problem(messages) or _tools_problem(body.get("tools"))


def _conversation_problem(messages: list[Any]) -> tuple[str, str | None] | None:
    """Roles known; every tool message answers a `tool_calls` id of the assistant message
    before it; every such id is answered before the conversation goes on."""
    pending: dict[str, int] = {}  # unanswered tool_call id -> its assistant message
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        param = f"messages.[{index}].role"
        if role not in ROLES:
            return (f"Invalid value: {json.dumps(role)}. Supported values are: 'system', "
                    "'assistant', 'user', 'function', 'tool', and 'developer'.", param)
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                return ("Invalid parameter: messages with role 'tool' must be a response to "
                        "a preceeding message with 'tool_calls'.", param)
            del pending[message["tool_call_id"]]
            continue
        if pending:
            start = min(pending.values())
            return ("An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(pending)}", f"messages.[{start}].role")
        if role == "assistant":
            pending = {call["id"]: index for call in message.get("tool_calls") or []}
    if pending:
        return ("An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}",
                f"messages.[{min(pending.values())}].role")
    return None


def _tools_problem(tools: Any) -> tuple[str, str | None] | None:
    if tools is None:
        return None
    if len(tools) > MAX_TOOLS:
        return (f"Invalid 'tools': array too long. Expected an array with maximum length "
                f"{MAX_TOOLS}, but got an array with length {len(tools)} instead.", "tools")
    for index, tool in enumerate(tools):
        name = str((tool.get("function") or {}).get("name") or "")
        param = f"tools[{index}].function.name"
        if len(name) > 64:
            return (f"Invalid '{param}': string too long. Expected a string with maximum "
                    f"length 64, but got a string with length {len(name)} instead.", param)
        if not TOOL_NAME.fullmatch(name):
            return (f"Invalid '{param}': string does not match pattern. Expected a string "
                    "that matches the pattern '^[a-zA-Z0-9_-]+$'.", param)
    return None


def _halves(text: str) -> list[str]:
    cut = max(1, len(text) // 2)
    return [text[:cut], text[cut:]] if len(text) > 1 else [text]


def stream_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A chat.completion as OpenAI streams it: the role, the content a few words at a time,
    each tool call's id and name and then its arguments in pieces, the finish reason, and
    (when asked) the usage in a last chunk without choices."""
    base = {key: completion[key] for key in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish}]}
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    words = re.findall(r"\S+\s*|\s+", message.get("content") or "")
    chunks += [chunk({"content": "".join(words[i:i + 3])}) for i in range(0, len(words), 3)]
    for index, call in enumerate(message.get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": index, "id": call["id"],
                                             "type": "function", "function": {
                                                 "name": call["function"]["name"],
                                                 "arguments": ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                   for piece in _halves(call["function"]["arguments"])]
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": completion.get("usage")})
    return chunks


def demo_model(fake: FakeOpenAI) -> Callable[[dict[str, Any]], Scripted]:
    """For trying the console without a real model: `call TOOL {json}` makes that tool
    call and then answers with its result; anything else is answered with the tools the
    bot offered."""
    def answer(body: dict[str, Any]) -> Scripted:
        last = body["messages"][-1]
        if last.get("role") == "tool":
            return Scripted(body=fake.completion(f"The tool said: {last.get('content')}"))
        words = str(last.get("content") or "").split(maxsplit=2)
        if len(words) >= 2 and words[0] == "call":
            arguments = words[2] if len(words) == 3 else "{}"
            return Scripted(body=fake.completion(None, [fake.tool_call(words[1], arguments)]))
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        return Scripted(body=fake.completion(
            "(fake model) I can call: " + (", ".join(tools) or "no tools")
            + ". Say `call TOOL {json}` to make me call one."))
    return answer


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible model server.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=None, help="the key it demands (default: none)")
    args = parser.parse_args()
    fake = FakeOpenAI(api_key=args.api_key, port=args.port)
    fake.default = demo_model(fake)
    print(f"fake model at {fake.base_url} (model {MODEL}); Ctrl-C stops it", flush=True)
    fake.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
