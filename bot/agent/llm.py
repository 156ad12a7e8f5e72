"""The chat model through the official `openai` SDK (`AsyncOpenAI`, or `AsyncAzureOpenAI` for
Azure OpenAI), against any OpenAI-compatible endpoint, with tools.

The SDK sends, retries (its policy: 408, 409, 429, 5xx and connection failures, honouring
`retry-after-ms`/`retry-after` and `x-should-retry`) and raises typed errors; this module
turns each into one sentence for the user, streams answers (text reported as it arrives),
and reads replies tolerantly, as compatible servers vary. `openai` is imported by
`prepare()` (`bot run` and the console call it at start) or the first model call, so
commands that never ask the model do not pay for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import messages
from bot.errors import BotError
from bot.redaction import redact

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
OPENAI_URL = "https://api.openai.com/v1"
AZURE_VERSION = "2024-10-21"  # Azure OpenAI's GA api-version when OPENAI_API_VERSION is unset
MODEL_WORD = re.compile(r"\bmodel\b", re.IGNORECASE)  # a 404 about the model, not the path
OnText = Callable[[str], Awaitable[None]]


class ModelError(BotError):
    """The model could not be reached or refused; the text is one sentence for the user,
    `kind` what the metrics count it as (timeout, unreachable, auth, rate_limited, …)."""

    def __init__(self, text: str, *, kind: str = "failed") -> None:
        super().__init__(text)
        self.kind = kind


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None


@dataclass(frozen=True)
class Azure:
    """Azure OpenAI: the resource endpoint and API version; OPENAI_MODEL names the
    deployment."""

    endpoint: str
    api_version: str


class LLM:
    def __init__(self, *, api_key: str | None, base_url: str, model: str,
                 timeout: float = 60.0, max_retries: int = 2,
                 organization: str | None = None, project: str | None = None,
                 proxy: str | None = None, azure: Azure | None = None) -> None:
        self.model = model
        self.base_url = (azure.endpoint if azure else base_url).rstrip("/")
        self.timeout = timeout
        self._settings = {"api_key": api_key, "max_retries": max_retries,
                          "organization": organization, "project": project}
        self._proxy = proxy  # resolved once by Settings.proxy_for (loopback never proxied)
        self._azure = azure
        self._sdk: openai.AsyncOpenAI | None = None
        self._headers: dict[str, Any] = {}  # per request; set with the client
        self.streams = True  # until the endpoint shows it cannot

    def prepare(self) -> None:
        """Import the SDK and build the client now: `bot run` and the console do at start,
        so the first question does not stall the event loop for half a second."""
        self._client()

    def _client(self) -> openai.AsyncOpenAI:
        if self._sdk is None:
            import openai

            settings = self._settings
            # aiohttp under the SDK's httpx API (the SDK's own `DefaultAioHttpClient`): the
            # same requests, retries and errors, ~40% less CPU per streamed call
            # (bench/RESULTS.md, agent loop)
            http = openai.DefaultAioHttpClient(
                proxy=self._proxy, trust_env=False, follow_redirects=False,
                timeout=openai.Timeout(self.timeout, connect=self.timeout),
                event_hooks={"response": [_quota_is_final]})
            common: dict[str, Any] = {
                "api_key": settings["api_key"], "max_retries": settings["max_retries"],
                "organization": settings["organization"], "project": settings["project"],
                "http_client": http, "_enforce_credentials": bool(settings["api_key"])}
            self._sdk = (openai.AsyncAzureOpenAI(azure_endpoint=self._azure.endpoint,
                                                 api_version=self._azure.api_version, **common)
                         if self._azure else openai.AsyncOpenAI(base_url=self.base_url,
                                                                **common))
            # A local server (Ollama, vLLM…) needs no key: send none rather than a dummy.
            self._headers = {} if settings["api_key"] else {"Authorization": openai.omit}
        return self._sdk

    async def complete(self, chat: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                       on_text: OnText | None = None) -> Reply:
        """The model's next message, streamed when the endpoint can (`on_text` hears the
        answer's text as it arrives); raises ModelError (one sentence) when there is none."""
        import openai

        request: dict[str, Any] = {"model": self.model, "messages": chat}
        if tools:
            request["tools"] = tools
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                return await self._call(request, on_text, deadline)
        except TimeoutError:
            log.warning("model call to %s: no answer within %.0f s, retries included",
                        self.base_url, self.timeout)
            raise ModelError(messages.model_timeout(self.base_url, self.timeout),
                             kind="timeout") from None
        except openai.APIError as exc:
            spent = time.monotonic() - started
            log.warning("model call to %s failed after %.1f s: %s", self.base_url, spent,
                        _reason(exc))
            raise ModelError(self._sentence(exc, spent), kind=_kind(exc)) from None

    async def _call(self, request: dict[str, Any], on_text: OnText | None,
                    deadline: asyncio.Timeout) -> Reply:
        """One step: OPENAI_TIMEOUT bounds the wait for the model to start answering, the
        SDK's retries included; a streamed answer may then take longer (each read of it
        still has the HTTP client's OPENAI_TIMEOUT)."""
        import openai

        if self.streams:
            try:
                return await self._stream(request, on_text, deadline)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if not _about_streaming(exc):
                    raise
                log.info("model at %s refused to stream (%s); asking without streaming",
                         self.base_url, _detail(exc)[0] or exc.status_code)
                reply = await self._plain(request)
                self.streams = False  # it answers, just not as a stream: once per endpoint
                return reply
        return await self._plain(request)

    async def _plain(self, request: dict[str, Any]) -> Reply:
        raw = await self._client().chat.completions.with_raw_response.create(
            **request, extra_headers=self._headers)
        return self._reply(raw.http_response.content)

    async def _stream(self, request: dict[str, Any], on_text: OnText | None,
                      deadline: asyncio.Timeout) -> Reply:
        import openai

        # The SDK's low layer: its retries, errors, auth and Azure routing, without the
        # typed layer's request transform and a pydantic object per chunk (chunks are the
        # JSON dicts), which cost 2-3x the CPU of the call on the loop that acks Slack.
        stream = await self._client().post(
            "/chat/completions", cast_to=object, stream=True,
            stream_cls=openai.AsyncStream[object],
            body=request | {"stream": True, "stream_options": {"include_usage": True}},
            options={"headers": self._headers})
        deadline.reschedule(None)  # it answers: the read timeout watches for silences
        response = stream.response
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            self.streams = False  # it ignored stream=true and answered whole
            return self._reply(await response.aread())
        assembler = Assembler()
        async for chunk in stream:
            piece = assembler.add(chunk)
            if piece and on_text is not None:
                await on_text(piece)
        return assembler.reply()

    def _reply(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "choices" not in body:
            log.warning("model at %s answered without a chat completion: %.200r",
                        self.base_url, raw)
            raise ModelError(messages.model_bad_reply(self.base_url), kind="bad_reply")
        choices = body["choices"]
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            log.warning("model at %s answered with no message: %.200r", self.base_url, raw)
            raise ModelError(messages.model_empty(self.base_url), kind="bad_reply")
        reply = parse_message(message)
        return Reply(reply.content, reply.tool_calls, _usage(body.get("usage")))

    def _sentence(self, exc: openai.APIError, spent: float) -> str:
        """One sentence for the user; after retries that took a while, how long they took."""
        sentence = self._what_failed(exc)
        if spent >= 1 and sentence.endswith(messages.TRY_AGAIN):
            return sentence.removesuffix(messages.TRY_AGAIN) + messages.tried_for(spent)
        return sentence

    def _what_failed(self, exc: openai.APIError) -> str:
        import openai

        transport = _transport_failure(exc)
        if transport == "timeout":
            return messages.model_timeout(self.base_url, self.timeout)
        if transport == "unreachable":
            return messages.model_unreachable(self.base_url)
        if not isinstance(exc, openai.APIStatusError):
            return messages.model_failed(self.base_url, None)
        status, (detail, code) = exc.status_code, _detail(exc)
        if status in (401, 403):
            return messages.model_auth(self.base_url)
        if status == 404:
            return (messages.model_not_found(self.model, self.base_url)
                    if code == "model_not_found" or MODEL_WORD.search(detail)
                    else messages.model_bad_reply(self.base_url))
        if status == 429:
            return (messages.model_quota(self.base_url) if code == "insufficient_quota"
                    else messages.model_rate_limited(self.base_url))
        if status < 500 and status not in (408, 409) and detail and status >= 400:
            return messages.model_rejected(self.base_url, status, detail)
        return messages.model_failed(self.base_url, status)

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None


class Assembler:
    """A streamed answer put back together: content pieces, and tool calls whose id, name
    and arguments arrive split across chunks (keyed by their index)."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage: Usage | None = None

    def add(self, chunk: object) -> str:
        """Take one chunk (its JSON, as sent; anything else in it is skipped, as compatible
        servers vary); the answer text it adds ("" for none)."""
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("usage") is not None:
            self.usage = _usage(chunk["usage"])
        text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            text += _text(delta.get("content"))
            if refusal := _text(delta.get("refusal")):
                self.refusal.append(refusal)
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    self._add_call(call)
        if text:
            self.content.append(text)
        return text

    def _add_call(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        slot = self.calls.setdefault(index if isinstance(index, int) else 0,
                                     {"id": "", "name": "", "arguments": ""})
        slot["id"] = _text(call.get("id")) or slot["id"]
        function = call.get("function")
        if isinstance(function, dict):
            slot["name"] += _text(function.get("name"))
            arguments = function.get("arguments")
            slot["arguments"] += (arguments if isinstance(arguments, str) else ""
                                  if arguments is None else json.dumps(arguments))

    def reply(self) -> Reply:
        message = {"content": "".join(self.content) or None,
                   "refusal": "".join(self.refusal) or None,
                   "tool_calls": [{"id": c["id"], "type": "function",
                                   "function": {"name": c["name"], "arguments": c["arguments"]}}
                                  for _, c in sorted(self.calls.items())]}
        reply = parse_message(message)
        return Reply(reply.content, reply.tool_calls, self.usage)


def parse_message(message: Mapping[str, Any]) -> Reply:
    """An assistant message as OpenAI-compatible servers send it, tolerant of the usual
    variations: arguments as an object instead of JSON text, a missing call id, content as
    a list of text parts, a refusal instead of content."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content
                          if isinstance(part, dict)) or None
    elif content is not None and not isinstance(content, str):
        content = str(content)
    if not content and isinstance(message.get("refusal"), str):
        content = message["refusal"]
    calls = []
    for raw in message.get("tool_calls") or ():
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or raw.get("type", "function") != "function":
            continue
        arguments = function.get("arguments")
        if arguments is None or arguments == "":
            arguments = "{}"
        elif not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append(ToolCall(id=str(raw.get("id") or f"call_{uuid.uuid4().hex[:16]}"),
                              name=str(function.get("name") or ""), arguments=arguments))
    return Reply(content, tuple(calls))


async def _quota_is_final(response: Any) -> None:
    """An exhausted quota answers 429 like a rate limit, but waiting cannot help: tell the
    SDK not to retry it."""
    if response.status_code == 429:
        await response.aread()
        if b"insufficient_quota" in response.content:
            response.headers["x-should-retry"] = "false"


def _about_streaming(exc: openai.APIStatusError) -> bool:
    """A refusal of `stream` itself (the server cannot stream), not of the request."""
    error = _error_object(exc.body)
    return error.get("param") == "stream" or "stream" in str(error.get("message", "")).lower()


def _error_object(body: object) -> dict[str, Any]:
    """The error object of a JSON error body: the SDK passes OpenAI's inner "error" object,
    or the whole body when it has none (vLLM's top-level `{"message"}`)."""
    if not isinstance(body, dict):
        return {}
    return body["error"] if isinstance(body.get("error"), dict) else body


def _usage(value: object) -> Usage | None:
    """`usage` of a whole reply or of a stream's last chunk (None when it has none)."""
    if not isinstance(value, Mapping):
        return None
    return Usage(_count(value.get("prompt_tokens")), _count(value.get("completion_tokens")))


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _text(value: object) -> str:
    """A string field of a chunk, or "" (null, or a server's odd type)."""
    return value if isinstance(value, str) else ""


def _detail(exc: openai.APIStatusError) -> tuple[str, str | None]:
    """The endpoint's own explanation and error code: OpenAI's `{"error": {"message",
    "code"}}`, vLLM's top-level `{"message"}`, or a short plain-text body; redacted and cut
    to one line."""
    body, code, text = exc.body, None, ""
    if isinstance(body, dict):
        error = _error_object(body)
        code = error.get("code") if isinstance(error.get("code"), str) else None
        text = next((v for v in (error.get("message"), body.get("error"))
                     if isinstance(v, str)), "")
    else:
        raw = (body if isinstance(body, str) else exc.response.text).strip()
        text = "" if raw.startswith("<") else raw  # an HTML error page says nothing useful
    return redact(" ".join(text.split()))[:300], code


def _reason(exc: openai.APIError) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_detail(exc)[0] or '(no error message)'}"
    return f"{type(exc).__name__}: {exc.__cause__!r}"


def _transport_failure(exc: BaseException) -> str | None:
    """How a call failed below HTTP: "timeout", "unreachable" (no connection made),
    "dropped" (the connection broke), or None (an HTTP answer, or not the transport). The
    SDK's aiohttp transport calls every connection failure a ConnectTimeout (its map
    takes the first match), so the cause it chains is what tells them apart."""
    import aiohttp
    import openai

    if not isinstance(exc, openai.APIConnectionError):
        return None
    causes: list[BaseException] = []
    cause: BaseException | None = exc.__cause__
    while cause is not None and len(causes) < 5:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    for cause in causes:
        if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            return "unreachable"
        if isinstance(cause, aiohttp.ServerTimeoutError | aiohttp.SocketTimeoutError |
                      TimeoutError):
            return "timeout"
        if isinstance(cause, aiohttp.ClientError):
            return "dropped"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    named = type(exc.__cause__).__name__ in ("ConnectError", "ConnectTimeout",
                                             "UnsupportedProtocol", "InvalidURL")
    return "unreachable" if named else "dropped"


def _kind(exc: Exception) -> str:
    """What a failed model call counts as in the metrics (a fixed, small set)."""
    import openai

    transport = _transport_failure(exc)
    if transport is not None:
        return "unreachable" if transport == "dropped" else transport
    if not isinstance(exc, openai.APIStatusError):
        return "failed"
    status = exc.status_code
    return ("auth" if status in (401, 403) else "not_found" if status == 404
            else "rate_limited" if status == 429 else "server_error" if status >= 500
            else "rejected")
