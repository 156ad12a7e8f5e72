"""The Slack front: the HTTP endpoint that reads, verifies and acknowledges Slack's requests,
in a process of its own, and hands their work to the bot over a local link.

Under load the bot's event loop (model streams, the database, Slack calls, plugin I/O) and
its garbage collector hold the interpreter for tens, at times hundreds, of milliseconds; a
Slack request that waited on it waited that long for its ack (issue 36: p99 5-47x a bare
Bolt app's; in a thread of the same process, full collections of the answering heap still
stalled acks 60-400 ms). So `bot run` (HTTP mode) forks this front before it builds anything
else: a small process with a small heap, on its own core when there is one.

What it does per request on `/slack/events`: refuse while the bot drains (503: Slack retries,
/readyz sends it elsewhere); verify Slack's signature (401, as Bolt answers); then
- an Events API delivery (an @mention, a message), a slash command or a button click is
  written to the link and acknowledged at once: the bot's listeners for these acknowledge
  with an empty body and answer through the Web API or response_url (ACK_AT_ONCE; a test
  keeps every `ack()` in bot/slack empty), and the bot's Bolt app dispatches it as before
  (de-duplication, the queue row, the answer);
- anything whose response is the listener's own (a view submission, the URL check) is
  written to the link and its response awaited.
The probes (/healthz, /readyz, /metrics), when served on this port, are answered by the bot
the same way: /healthz says the bot's loop answers, not this one.

The link is a Unix socket pair carrying one JSON object per line (see `bot/slack/front_link`
for the bot's end). The front listens only once the bot says "serve" (so Slack is refused,
and retries, while the bot starts), answers 503 once it says "stopping", and exits when
the link closes — also when the bot dies, so nothing is acknowledged into the void.

This module imports nothing of the bot but its sentences: no settings, database, agent or
Slack SDK client (an import contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot import messages

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
PROBE_PATHS = ("/healthz", "/readyz", "/metrics")
SERVER_HEADER = "chatops-bot"  # aiohttp's own names its version and Python's
LINK_LIMIT = 8 * 1024 * 1024  # one line on the link: a request body is at most 1 MB
BACKLOG_LIMIT = 16 * 1024 * 1024  # bytes the bot has not read yet: beyond, Slack retries later
CALL_SECONDS = 30.0  # a view's or a probe's response from the bot, at most
ACK_AT_ONCE = frozenset({"event_callback", "block_actions"})  # payload types; and commands


def hide_versions(app: web.Application) -> None:
    """Every response of `app` says `Server: chatops-bot`, nothing more."""
    async def plain(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = SERVER_HEADER
    app.on_response_prepare.append(plain)


def slack_request_kind(body: Any) -> str:
    """What a Slack request is, for the ack latency label (a fixed set)."""
    if not isinstance(body, dict):
        return "other"
    if body.get("command"):
        return "command"
    kind = body.get("type")
    return {"event_callback": "event", "block_actions": "action",
            "view_submission": "view", "url_verification": "event"}.get(str(kind), "other")


def parse_slack_body(raw: str, content_type: str) -> dict[str, Any]:
    """A request's body as Bolt reads it: JSON (events), or a form whose `payload` is JSON
    (interactivity) or whose fields are the command; ValueError when it is neither."""
    if not raw:
        return {}
    if content_type == "application/json" or raw.startswith("{"):
        body = json.loads(raw)
    else:
        fields = dict(parse_qsl(raw, keep_blank_values=True))
        body = json.loads(fields["payload"]) if "payload" in fields else fields
    if not isinstance(body, dict):
        raise ValueError("not an object")
    return body


class Front:
    """One front: its link to the bot, the listening socket it serves once told to."""

    def __init__(self, link: socket.socket, listener: socket.socket, *,
                 signing_secret: str, probes: bool) -> None:
        self.link = link
        self.listener = listener
        self.verifier = SignatureVerifier(signing_secret)
        self.probes = probes  # the probes are served on this port (no METRICS_PORT)
        self.stopping = False
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None

    async def main(self) -> None:
        """Serve until the link closes."""
        reader, self._writer = await asyncio.open_unix_connection(sock=self.link,
                                                                  limit=LINK_LIMIT)
        runner: web.AppRunner | None = None
        try:
            while line := await reader.readline():
                frame = json.loads(line)
                if frame["op"] == "serve" and runner is None:
                    runner = await self._serve()
                    self._send({"op": "serving"})
                elif frame["op"] == "stopping":
                    self.stopping = True
                elif frame["op"] == "reply":
                    call = self._calls.pop(frame["id"], None)
                    if call is not None and not call.done():
                        call.set_result(frame)
        finally:
            self.stopping = True
            for call in self._calls.values():
                call.cancel()
            if runner is not None:
                await runner.cleanup()
            self._writer.close()

    async def _serve(self) -> web.AppRunner:
        app = web.Application()
        hide_versions(app)
        app.router.add_post(EVENTS_PATH, self._slack)
        if self.probes:
            for path in PROBE_PATHS:
                app.router.add_get(path, self._probe)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, self.listener).start()
        return runner

    async def _slack(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        if self.stopping:  # Slack retries it; /readyz sends it to another replica
            return web.Response(status=503, text=messages.probe_stopping())
        raw = await request.text()
        headers = request.headers
        if not self.verifier.is_valid(body=raw,
                                      timestamp=headers.get("X-Slack-Request-Timestamp"),
                                      signature=headers.get("X-Slack-Signature")):
            return web.json_response({"error": "invalid request"}, status=401)  # as Bolt
        try:
            body = parse_slack_body(raw, request.content_type)
        except (ValueError, KeyError):
            return web.json_response({"error": "invalid request"}, status=400)
        request_frame = {"path": EVENTS_PATH, "query": request.query_string, "body": raw,
                         "headers": {key: headers.getall(key) for key in headers}}
        kind = slack_request_kind(body)
        if body.get("type") in ACK_AT_ONCE or body.get("command"):
            if self._backlog() > BACKLOG_LIMIT:  # the bot is not reading: Slack retries
                log.warning("the bot has not read %d bytes of Slack requests: refusing "
                            "until it catches up", self._backlog())
                return web.Response(status=503, text=messages.front_busy())
            self._send({"op": "acked", **request_frame})  # handed over: now the ack
            response = web.Response(status=200)
        else:
            response = await self._call(request_frame)
        self._send({"op": "ack_time", "kind": kind, "seconds": time.perf_counter() - started})
        return response

    async def _probe(self, request: web.Request) -> web.Response:
        return await self._call({"path": request.path, "query": request.query_string,
                                 "body": "", "headers": {}})

    async def _call(self, request_frame: dict[str, Any]) -> web.Response:
        """A request the bot answers: its response, or 503 when none comes in time."""
        call_id = next(self._ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = reply
        self._send({"op": "call", "id": call_id, **request_frame})
        try:
            async with asyncio.timeout(CALL_SECONDS):
                frame = await reply
        except (TimeoutError, asyncio.CancelledError):
            self._calls.pop(call_id, None)
            return web.Response(status=503, text=messages.front_no_answer())
        headers = {key.lower(): value for key, value in (frame.get("headers") or {}).items()}
        headers.setdefault("content-type", "application/json" if frame["body"].startswith("{")
                           else "text/plain; charset=utf-8")
        return web.Response(status=frame["status"], body=frame["body"].encode(),
                            headers=headers)

    def _send(self, frame: dict[str, Any]) -> None:
        assert self._writer is not None
        if not self._writer.is_closing():
            self._writer.write(json.dumps(frame).encode() + b"\n")

    def _backlog(self) -> int:
        assert self._writer is not None
        return self._writer.transport.get_write_buffer_size()


def run_front(link: socket.socket, listener: socket.socket, *, signing_secret: str,
              probes: bool, on_start: Callable[[], None] = lambda: None) -> None:
    """The front's whole life, on a loop of its own (the forked process's, or a thread's)."""
    on_start()
    front = Front(link, listener, signing_secret=signing_secret, probes=probes)
    with contextlib.suppress(ConnectionError):
        asyncio.run(front.main())
    listener.close()
