"""The chat model: OpenAI chat completions with tools, against any OpenAI-compatible endpoint.

One request shape (`POST {base_url}/chat/completions`), one reply shape, and every failure
turned into one sentence for the user. Retries follow the `openai` SDK's documented policy
(2 by default; 408, 409, 429, 5xx and connection failures; `retry-after-ms`/`retry-after`
up to 60 s, else exponential back-off from 0.5 s to 8 s with jitter; `x-should-retry`
overrides). Why this is not the `openai` SDK: its request path costs about 0.8 ms of CPU
per call against 0.2 ms here, and with 100 concurrent runs on two cores that alone kept the
bot at 1.35x of the ideal wall time (docs/architecture.md, "The model client").
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import messages
from bot.errors import BotError
from bot.redaction import redact

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)
OPENAI_URL = "https://api.openai.com/v1"
USER_AGENT = "chatops-bot (OpenAI-compatible chat client; aiohttp)"
RETRY_STATUSES = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MODEL_WORD = re.compile(r"\bmodel\b", re.IGNORECASE)  # a 404 about the model, not the path


class ModelError(BotError):
    """The model could not be reached or refused; the text is one sentence for the user."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class Reply:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class _Failure:
    sentence: str
    retry: bool
    reason: str
    headers: Mapping[str, str] | None = None


class LLM:
    def __init__(self, *, api_key: str | None, base_url: str, model: str,
                 timeout: float = 60.0, max_retries: int = 2,
                 organization: str | None = None, project: str | None = None,
                 proxy: str | None = None) -> None:
        import aiohttp  # here, not at module level: ~0.15 s that only model users pay

        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self._url = f"{self.base_url}/chat/completions"
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout,
                                              sock_read=timeout)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": USER_AGENT}
        if api_key:  # a local server (Ollama, vLLM…) needs none; send none rather than a dummy
            self._headers["Authorization"] = f"Bearer {api_key}"
        if organization:
            self._headers["OpenAI-Organization"] = organization
        if project:
            self._headers["OpenAI-Project"] = project
        self._proxy = proxy  # resolved once by Settings.proxy_for: aiohttp's trust_env
        # re-reads the environment on a thread for every request (4x the CPU per call)
        self._http: aiohttp.ClientSession | None = None

    async def complete(self, chat: list[dict[str, Any]],
                       tools: list[dict[str, Any]] | None) -> Reply:
        """The model's next message; raises ModelError (one sentence) when there is none."""
        body: dict[str, Any] = {"model": self.model, "messages": chat}
        if tools:
            body["tools"] = tools
        data = json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(self.max_retries + 1):
            outcome = await self._attempt(data)
            if isinstance(outcome, Reply):
                return outcome
            if not outcome.retry or attempt == self.max_retries:
                log.warning("model call to %s failed: %s", self._url, outcome.reason)
                raise ModelError(outcome.sentence)
            delay = retry_delay(outcome.headers or {}, attempt)
            log.info("model call to %s failed (%s); retry %d of %d in %.2f s", self._url,
                     outcome.reason, attempt + 1, self.max_retries, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(self, data: bytes) -> Reply | _Failure:
        import aiohttp

        try:
            async with self._client().post(self._url, data=data, headers=self._headers,
                                           proxy=self._proxy, allow_redirects=False
                                           ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except aiohttp.InvalidURL as exc:
            return _Failure(messages.model_unreachable(self.base_url), False, repr(exc))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return _Failure(messages.model_unreachable(self.base_url), True, repr(exc))
        except TimeoutError as exc:  # connected, then waited longer than the timeout
            return _Failure(messages.model_timeout(self.base_url), True, repr(exc))
        except aiohttp.ClientError as exc:  # dropped connection, broken response
            return _Failure(messages.model_failed(self.base_url, None), True, repr(exc))
        if 200 <= status < 300:
            return self._reply(raw)
        return self._status_failure(status, headers, raw)

    def _status_failure(self, status: int, headers: Mapping[str, str], raw: bytes
                        ) -> _Failure:
        detail, code = _error_detail(raw)
        reason = f"HTTP {status}: {detail or '(no error message)'}"
        retry = status in RETRY_STATUSES or status >= 500
        if status in (401, 403):
            sentence = messages.model_auth(self.base_url)
        elif status == 404 and (code == "model_not_found" or MODEL_WORD.search(detail)):
            sentence = messages.model_not_found(self.model, self.base_url)
        elif status == 404:  # no such path: a base URL without /v1, or not an OpenAI API
            sentence = messages.model_bad_reply(self.base_url)
        elif status == 429 and code == "insufficient_quota":
            sentence, retry = messages.model_quota(self.base_url), False
        elif status == 429:
            sentence = messages.model_rate_limited(self.base_url)
        elif status < 500 and status not in RETRY_STATUSES and detail:
            sentence = messages.model_rejected(self.base_url, status, detail)
        else:
            sentence = messages.model_failed(self.base_url, status)
        should_retry = headers.get("x-should-retry")
        if should_retry in ("true", "false"):
            retry = should_retry == "true"
        return _Failure(sentence, retry, reason, headers)

    def _reply(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or "choices" not in body:
            log.warning("model at %s answered without a chat completion: %.200r",
                        self._url, raw)
            raise ModelError(messages.model_bad_reply(self.base_url))
        choices = body["choices"]
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            log.warning("model at %s answered with no message: %.200r", self._url, raw)
            raise ModelError(messages.model_empty(self.base_url))
        return parse_message(message)

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=1000, limit_per_host=0))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


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
        if arguments is None:
            arguments = "{}"
        elif not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append(ToolCall(id=str(raw.get("id") or f"call_{uuid.uuid4().hex[:16]}"),
                              name=str(function.get("name") or ""), arguments=arguments))
    return Reply(content, tuple(calls))


def retry_delay(headers: Mapping[str, str], retries_so_far: int) -> float:
    """Seconds to wait before the next attempt: the server's `retry-after-ms` or
    `retry-after` (seconds or an HTTP date) when it is between 0 and 60 s, else
    exponential back-off with jitter — the `openai` SDK's policy."""
    suggested = _retry_after(headers)
    if suggested is not None and 0 < suggested <= MAX_RETRY_AFTER:
        return suggested
    backoff = min(INITIAL_BACKOFF * 2.0 ** retries_so_far, MAX_BACKOFF)
    return backoff * (1 - 0.25 * random.random())


def _retry_after(headers: Mapping[str, str]) -> float | None:
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _error_detail(raw: bytes) -> tuple[str, str | None]:
    """The endpoint's own explanation and error code: OpenAI's `{"error": {"message",
    "code"}}`, vLLM's top-level `{"message"}`, or a short plain-text body; redacted and cut
    to one line."""
    code = None
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        text = "" if text.startswith("<") else text  # an HTML error page says nothing useful
    else:
        body = body if isinstance(body, dict) else {}
        error = body.get("error")
        if isinstance(error, dict):
            text, code = error.get("message"), error.get("code")
        else:
            text = error if isinstance(error, str) else body.get("message")
        text = text if isinstance(text, str) else ""
        code = code if isinstance(code, str) else None
    return redact(" ".join(text.split()))[:300], code
