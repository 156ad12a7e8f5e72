"""The bot's end of the link to its Slack front (bot/slack/front.py): the front is started
(forked by `bot run` before anything else, or in a thread where forking is unsafe), told to
serve once the bot is ready, and each request it hands over is dispatched here to Bolt or
the probes, on the bot's loop.

`bot run` forks at the very start, while the process has one thread and no event loop (a
fork is only safe then); the listening socket is bound before the fork, so a port in use is
reported as before, but nothing listens until the bot says "serve". Where a fork is not safe
(other threads already running: tests and benchmarks that embed the bot) the same front
runs in a thread of its own, with its own loop — the same code and link, without the
separate heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import messages
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.probes import Probes
from bot.slack.front import EVENTS_PATH, LINK_LIMIT, run_front

log = logging.getLogger(__name__)
START_SECONDS = 10.0  # the front's "serving" after "serve"
EXIT_SECONDS = 5.0  # the front's exit after the link closes
DISPATCH_GRACE = 5.0  # at close: deliveries already acknowledged still reach Bolt


@dataclass
class Launched:
    """A started front: the bot's end of its link, the port it will serve, and how to
    wait for its end (a child process, or a thread)."""

    link: socket.socket
    port: int
    pid: int | None = None
    thread: threading.Thread | None = None
    ended: bool = False

    def abandon(self) -> None:
        """The bot did not start (or ended without `FrontLink.close`): close the link, so
        the front exits, and wait for it."""
        if self.ended:
            return
        self.ended = True
        self.link.close()
        if self.thread is not None:
            self.thread.join(EXIT_SECONDS)
        elif self.pid is not None:
            _wait_for_exit(self.pid)

    async def join(self) -> None:
        """After `FrontLink.close` closed the link: wait for the front's end."""
        await asyncio.to_thread(self.abandon)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound but not yet listening (connections are refused until the
    front serves); ConfigError when the port is taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(messages.port_unavailable(host, port, exc)) from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise ConfigError(messages.port_unavailable(host, port, exc)) from None
    listener.setblocking(False)
    return listener


def launch(host: str, port: int, *, signing_secret: str, probes: bool, fork: bool
           ) -> Launched:
    """Bind, then start the front: in a child process when `fork` is asked for and safe
    (this process has one thread and no running loop), else in a thread."""
    listener = bind(host, port)
    bound = listener.getsockname()[1]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if not fork or threading.active_count() > 1 or _loop_running():
        thread = threading.Thread(target=run_front, args=(theirs, listener),
                                  kwargs={"signing_secret": signing_secret, "probes": probes},
                                  name="slack-front", daemon=True)
        thread.start()
        return Launched(ours, bound, thread=thread)
    pid = os.fork()
    if pid == 0:  # the front: it never returns to the caller
        ours.close()
        code = 1
        try:
            run_front(theirs, listener, signing_secret=signing_secret, probes=probes,
                      on_start=_become_front)
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    listener.close()
    return Launched(ours, bound, pid=pid)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _become_front() -> None:
    """In the forked front: the bot's signals are the bot's (it closes the link to stop
    us, after its drain), and what the bot had allocated is never collected here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()


def _wait_for_exit(pid: int) -> None:
    """Wait for the front to exit after the link closed; kill it if it does not."""
    for _ in range(int(EXIT_SECONDS * 20)):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.05)
    log.warning("the Slack front (pid %d) did not exit: killing it", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


@dataclass
class FrontLink:
    """Serves a launched front's requests on the bot's loop until `close`."""

    launched: Launched
    app: AsyncApp
    metrics: Metrics
    probes: Probes | None = None
    on_lost: Callable[[], None] = lambda: None  # the front died on its own
    _writer: asyncio.StreamWriter | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _threads: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    _reading: asyncio.Task[None] | None = None
    _closing: bool = False
    lost: bool = False  # the front ended while the bot still served

    @property
    def port(self) -> int:
        return self.launched.port

    async def start(self) -> None:
        """Tell the front to serve; return once it listens."""
        reader, self._writer = await asyncio.open_unix_connection(sock=self.launched.link,
                                                                  limit=LINK_LIMIT)
        self._send({"op": "serve"})
        async with asyncio.timeout(START_SECONDS):
            line = await reader.readline()
        if not line or json.loads(line).get("op") != "serving":
            raise ConfigError(messages.front_stopped())
        self._reading = asyncio.create_task(self._read(reader))
        if self.probes is not None:
            self._track(self._tell_stopping(self.probes.stopping))

    async def close(self) -> None:
        """Close the link (the front stops listening and exits), then let what it had
        already acknowledged reach Bolt."""
        self._closing = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reading is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._reading, DISPATCH_GRACE)
        await self.launched.join()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=DISPATCH_GRACE)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                frame = json.loads(line)
                op = frame["op"]
                if op == "acked":
                    self._in_order(frame)
                elif op == "call":
                    self._track(self._answer(frame))
                elif op == "ack_time":
                    self.metrics.ack_seconds.labels(kind=frame["kind"]).observe(
                        frame["seconds"])
        if not self._closing:
            self.lost = True
            log.error("%s", messages.front_stopped())
            self.on_lost()

    def _track(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _in_order(self, frame: dict[str, Any]) -> None:
        """Dispatch an acknowledged request; events of one Slack thread one after the other,
        in the order they reached the front (each dispatch lasts until its listener has
        queued the question: the bot's Bolt app processes before it responds), so that
        two questions sent back to back are queued, and answered, in that order."""
        key = _thread_of(frame["body"])
        if key is None:
            self._track(self._dispatch_acked(frame))
            return
        task = self._track(self._dispatch_after(self._threads.get(key), frame))
        self._threads[key] = task
        task.add_done_callback(lambda done: self._threads.pop(key, None)
                               if self._threads.get(key) is done else None)

    async def _dispatch_after(self, before: asyncio.Task[None] | None,
                              frame: dict[str, Any]) -> None:
        if before is not None:
            await asyncio.wait([before])
        await self._dispatch_acked(frame)

    async def _tell_stopping(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self._send({"op": "stopping"})

    async def _dispatch_acked(self, frame: dict[str, Any]) -> None:
        """A request Slack already has its 200 for: Bolt's response goes nowhere, so an
        unexpected one is logged."""
        try:
            response = await self.app.async_dispatch(_bolt_request(frame))
        except Exception:
            log.exception("dispatching an acknowledged Slack request failed")
            return
        if response.status not in (200, 404):  # 404: no listener for it, Bolt logged it
            log.warning("Bolt refused an acknowledged Slack request (%d): %s",
                        response.status, response.body[:200])

    async def _answer(self, frame: dict[str, Any]) -> None:
        try:
            status, headers, body = await self._respond(frame)
        except Exception:
            log.exception("answering a Slack request failed")
            status, headers, body = 500, {}, messages.front_no_answer()
        self._send({"op": "reply", "id": frame["id"], "status": status, "headers": headers,
                    "body": body})

    async def _respond(self, frame: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        path = frame["path"]
        if path == EVENTS_PATH:
            response = await self.app.async_dispatch(_bolt_request(frame))
            return (response.status, dict(response.first_headers_without_set_cookie()),
                    response.body)
        handler = self.probes.routes().get(path) if self.probes is not None else None
        if handler is None:
            return 404, {}, "not found"
        probe: web.Response = await handler()
        return (probe.status, {"content-type": probe.headers.get("Content-Type", "text/plain")},
                probe.text or "")

    def _send(self, frame: dict[str, Any]) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(json.dumps(frame).encode() + b"\n")


def _thread_of(raw: str) -> tuple[str, str] | None:
    """The Slack thread an Events API delivery is about (channel, thread ts), else None."""
    if not raw.startswith("{"):
        return None  # a command's or a click's form
    try:
        body = json.loads(raw)
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or not event.get("channel"):
            return None
        return str(event["channel"]), str(event.get("thread_ts") or event.get("ts"))
    except (ValueError, AttributeError):
        return None


def _bolt_request(frame: dict[str, Any]) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=frame["body"], query=frame["query"], headers=frame["headers"])
