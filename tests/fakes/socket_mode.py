"""A fake Slack Socket Mode endpoint: the websocket `apps.connections.open` points to.

Like Slack, it greets a new connection with `hello`, delivers envelopes
(`{"envelope_id", "type": "events_api" | "slash_commands" | "interactive", "payload"}`) and
expects each to be acknowledged with `{"envelope_id": ...}`.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._ids = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def start(self) -> FakeSocketMode:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=fake-ticket&app_id=A0TEST"

    def wait_connected(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self._ws is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._ws is None:
            raise AssertionError("the bot never opened a Socket Mode connection")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver one envelope; returns its id (look for it in `acks`)."""
        envelope_id = f"env-{next(self._ids)}"
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                   "retry_reason": ""}
        assert self._ws is not None
        asyncio.run_coroutine_threadsafe(self._ws.send_json(message), self._loop).result(5)
        return envelope_id

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link/", self._connect)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake-socket-mode",
                                           "approximate_connection_time": 18060},
                            "connection_info": {"app_id": "A0TEST"}})
        self._ws = ws
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = message.json()
                if "envelope_id" in data:
                    self.acks.append(data)
        if self._ws is ws:
            self._ws = None
        return ws
