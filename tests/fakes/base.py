"""What every fake HTTP service shares: a threaded server on 127.0.0.1, port 0."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops SYNs under concurrent load
    daemon_threads = True


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no Nagle delay (headers and body in one go), no access log."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass


class FakeHTTPService:
    """Subclasses provide `_handler()`; `start()`, `stop()` and `url` come from here."""

    def __init__(self, port: int = 0, *, tls: bool = False) -> None:
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.scheme = "https" if tls else "http"
        if tls:  # the handshake runs in each request's thread, not in the accept loop
            from tests.fakes.tls import certificates

            self._server.socket = certificates().server_context().wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"
