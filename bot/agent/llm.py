"""The chat model: `openai` against any OpenAI-compatible endpoint, failures as sentences."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import messages
from bot.errors import BotError

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessage

log = logging.getLogger(__name__)
OPENAI_URL = "https://api.openai.com/v1"


class ModelError(BotError):
    """The model could not be reached or refused; the text is one sentence for the user."""


class LLM:
    def __init__(self, *, api_key: str | None, base_url: str | None, model: str,
                 timeout: float = 60.0, max_retries: int = 2) -> None:
        import openai  # here, not at module level: ~0.45 s that only model users pay

        self.model = model
        self.base_url = base_url or OPENAI_URL
        # A local server (Ollama, vLLM…) needs no key, but the client insists on one.
        # The SDK's aiohttp transport costs half the CPU per request of its default one,
        # which is what bounds many concurrent runs on a small machine (bench/bench_agent.py).
        self._client = openai.AsyncOpenAI(api_key=api_key or "not-needed",
                                          base_url=self.base_url, timeout=timeout,
                                          max_retries=max_retries,
                                          http_client=openai.DefaultAioHttpClient(
                                              timeout=timeout))

    async def complete(self, chat: list[dict[str, Any]],
                       tools: list[dict[str, Any]] | None) -> ChatCompletionMessage:
        import openai
        from openai.types.chat import ChatCompletion

        body: dict[str, Any] = {"model": self.model, "messages": chat}
        if tools:
            body["tools"] = tools
        try:
            # The SDK's documented low-level call: same auth, retries and errors as
            # chat.completions.create, without re-walking the TypedDict hints of every
            # message on every request (half the bot's CPU under load; our messages are
            # plain JSON already).
            response = await self._client.post("/chat/completions", cast_to=ChatCompletion,
                                               body=body)
        except openai.APIError as exc:
            log.warning("model call failed: %r", exc)
            raise ModelError(self._sentence(exc)) from exc
        if not response.choices:
            raise ModelError(messages.model_empty(self.base_url))
        return response.choices[0].message

    def _sentence(self, exc: openai.APIError) -> str:
        import openai

        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return messages.model_auth(self.base_url)
        if isinstance(exc, openai.NotFoundError):
            return messages.model_not_found(self.model, self.base_url)
        if isinstance(exc, openai.RateLimitError):
            return messages.model_rate_limited(self.base_url)
        if isinstance(exc, openai.APIConnectionError):
            # A refused or unroutable connection may surface as a "timeout" depending on the
            # transport; only a request that connected and then waited is a real timeout.
            if isinstance(exc, openai.APITimeoutError) and not _failed_to_connect(exc):
                return messages.model_timeout(self.base_url)
            return messages.model_unreachable(self.base_url)
        if isinstance(exc, openai.APIStatusError):
            return messages.model_failed(self.base_url, exc.status_code)
        return messages.model_failed(self.base_url, None)

    async def close(self) -> None:
        await self._client.close()


def _failed_to_connect(exc: BaseException) -> bool:
    """True when the cause chain shows the connection itself failed (refused, no route,
    DNS, connect timeout)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in ("ConnectTimeout", "ConnectError", "ClientConnectorError") or (
                isinstance(current, OSError) and not isinstance(current, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
    return False
