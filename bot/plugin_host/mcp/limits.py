"""No MCP server's answer is read past a size limit: an HTTP transport for the SDK's client
(httpx2) that stops reading a response at `limit` bytes — a JSON body whole, an SSE stream
event by event (the session's own stream may stay open for hours) — before anything is
parsed, validated or masked. A body announced larger is refused before it is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2


class CappedStream(httpx2.AsyncByteStream):
    """`inner`, cut off with a ReadError (a transport failure to the SDK) past `limit`
    bytes: of the whole body, or since the last blank line of an event stream."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, on_over: Callable[[], None],
                 *, events: bool) -> None:
        self.inner, self.limit, self.on_over, self.events = inner, limit, on_over, events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = 0  # bytes of the body, or of the event being read
        tail = b""  # the end of the last chunk: an event's blank line may span two
        async for chunk in self.inner:
            end = _event_end(tail + chunk) if self.events else None
            pending = pending + len(chunk) if end is None else len(tail + chunk) - end
            tail = chunk[-3:]
            if pending > self.limit:
                self.on_over()
                raise httpx2.ReadError(f"the answer is over {self.limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int,
                 on_over: Callable[[], None]) -> None:
        self.inner, self.limit, self.on_over = inner, limit, on_over

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        events = response.headers.get("content-type", "").startswith("text/event-stream")
        announced = response.headers.get("content-length", "")
        if not events and announced.isdigit() and int(announced) > self.limit:
            await response.aclose()
            self.on_over()
            raise httpx2.ReadError(f"the answer announces {announced} bytes")
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(status_code=response.status_code, headers=response.headers,
                               stream=CappedStream(response.stream, self.limit, self.on_over,
                                                   events=events),
                               request=request, extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _event_end(data: bytes) -> int | None:
    """Where the last complete SSE event in `data` ends (after its blank line), or None."""
    ends = [data.rfind(mark) + len(mark) for mark in (b"\n\n", b"\r\n\r\n")
            if mark in data]
    return max(ends) if ends else None
