"""The chat-completions client against the fake OpenAI server, over real HTTP: what it sends,
what it accepts from OpenAI-compatible servers, its retries, and its sentences."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.agent.llm import (
    LLM,
    ModelError,
    Reply,
    ToolCall,
    parse_message,
    retry_delay,
)
from bot.app import Services
from bot.config import load_settings
from bot.plugin_host.protocol import Caller
from tests.fakes.openai_server import FakeOpenAI, Scripted

CHAT = [{"role": "user", "content": "q"}]
Make = Callable[..., Awaitable[Services]]


@pytest.fixture
async def llm(fake_openai: FakeOpenAI) -> AsyncIterator[LLM]:
    client = LLM(api_key=fake_openai.api_key, base_url=fake_openai.base_url,
                 model="gpt-4o-mini", timeout=5, max_retries=2)
    yield client
    await client.close()


@pytest.fixture
def keyless() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(api_key=None).start()
    yield fake
    fake.stop()


async def test_sends_the_chat_tools_and_credentials(llm: LLM, fake_openai: FakeOpenAI
                                                    ) -> None:
    fake_openai.reply("hello")
    tools = [{"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}]
    assert await llm.complete(CHAT, tools) == Reply("hello")
    assert fake_openai.requests == [{"model": "gpt-4o-mini", "messages": CHAT,
                                     "tools": tools}]
    headers = fake_openai.request_headers[0]
    assert headers["Authorization"] == "Bearer sk-test-key"
    assert headers["Content-Type"] == "application/json"


async def test_org_and_project_headers_are_sent_when_set(fake_openai: FakeOpenAI) -> None:
    client = LLM(api_key=fake_openai.api_key, base_url=fake_openai.base_url, model="m",
                 organization="org-sre", project="proj_bot")
    fake_openai.reply("ok")
    try:
        await client.complete(CHAT, None)
    finally:
        await client.close()
    headers = fake_openai.request_headers[0]
    assert (headers["OpenAI-Organization"], headers["OpenAI-Project"]) == (
        "org-sre", "proj_bot")


async def test_a_local_server_gets_no_dummy_key(keyless: FakeOpenAI) -> None:
    client = LLM(api_key=None, base_url=keyless.base_url + "/", model="llama3.1")
    keyless.reply("local answer")
    try:
        assert (await client.complete(CHAT, None)).content == "local answer"
    finally:
        await client.close()
    assert "Authorization" not in keyless.request_headers[0]


async def test_tool_calls_are_parsed(llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("a", {"x": 1}, "c1"),
                                  FakeOpenAI.tool_call("b", "{}", "c2")])
    reply = await llm.complete(CHAT, None)
    assert reply == Reply(None, (ToolCall("c1", "a", '{"x": 1}'), ToolCall("c2", "b", "{}")))


def test_the_usual_variations_of_compatible_servers_are_accepted() -> None:
    """Arguments as an object, a missing call id, content as parts, a refusal."""
    reply = parse_message({"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "kubectl_get", "arguments": {"kind": "pods"}}},
        {"function": {"name": "noargs"}},
        {"type": "custom", "custom": {"name": "ignored"}}]})
    first, second = reply.tool_calls
    assert (first.name, json.loads(first.arguments)) == ("kubectl_get", {"kind": "pods"})
    assert (second.name, second.arguments) == ("noargs", "{}")
    assert first.id.startswith("call_") and first.id != second.id
    parts = parse_message({"content": [{"type": "text", "text": "a"},
                                       {"type": "text", "text": "b"}]})
    assert parts == Reply("ab")
    assert parse_message({"content": None, "refusal": "I can't help with that."}) == Reply(
        "I can't help with that.")


async def test_arguments_as_an_object_reach_the_tool(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    services = await agent_services(enabled=("alpha",))
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "alpha_echo", "arguments": {"text": "x"}}}]}
    body = fake_openai.completion(None)
    body["choices"][0]["message"] = message
    fake_openai.respond_with(lambda _: Scripted(body=body))
    fake_openai.reply("done")
    result = await services.runs.ask("q", caller=Caller(user="U1"))
    assert result.text == "done"
    sent = fake_openai.messages(1)
    call_id = sent[-2]["tool_calls"][0]["id"]
    assert sent[-1] == {"role": "tool", "tool_call_id": call_id, "content": "alpha:x"}


async def test_retry_after_ms_is_honoured(llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(429, headers={"retry-after-ms": "300"})
    fake_openai.reply("after the wait")
    started = time.monotonic()
    assert (await llm.complete(CHAT, None)).content == "after the wait"
    assert time.monotonic() - started >= 0.3
    assert len(fake_openai.requests) == 2


async def test_x_should_retry_overrides_the_status(llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, headers={"x-should-retry": "false"})
    with pytest.raises(ModelError, match=r"failed \(HTTP 500\)"):
        await llm.complete(CHAT, None)
    assert len(fake_openai.requests) == 1
    fake_openai.fail(400, message="try me again", headers={"x-should-retry": "true",
                                                             "retry-after": "0.01"})
    fake_openai.reply("second time lucky")
    assert (await llm.complete(CHAT, None)).content == "second time lucky"
    assert len(fake_openai.requests) == 3


async def test_a_refused_request_says_why_and_is_not_retried(llm: LLM, fake_openai: FakeOpenAI
                                                             ) -> None:
    fake_openai.fail(400, message="This model's maximum context length is 128000 tokens. "
                                  "However, your messages resulted in 130000 tokens.",
                     kind="invalid_request_error", code="context_length_exceeded")
    with pytest.raises(ModelError) as raised:
        await llm.complete(CHAT, None)
    assert str(raised.value) == (
        f"The model endpoint ({fake_openai.base_url}) refused the request (HTTP 400): This "
        "model's maximum context length is 128000 tokens. However, your messages resulted "
        "in 130000 tokens.")
    assert len(fake_openai.requests) == 1


async def test_an_html_page_instead_of_a_completion_names_the_setting(
        llm: LLM, fake_openai: FakeOpenAI) -> None:
    """What a wrong OPENAI_BASE_URL (a web UI, a login page) answers."""
    fake_openai.respond_with(lambda _: Scripted(raw=b"<html><body>Sign in</body></html>"))
    with pytest.raises(ModelError) as raised:
        await llm.complete(CHAT, None)
    assert str(raised.value) == (
        f"The model endpoint ({fake_openai.base_url}) did not answer with a chat completion: "
        "check OPENAI_BASE_URL (OpenAI-compatible servers usually end in /v1).")
    fake_openai.respond_with(lambda _: Scripted(body={"id": "x", "choices": []}))
    with pytest.raises(ModelError, match="returned no answer"):
        await llm.complete(CHAT, None)


async def test_a_404_tells_a_missing_model_from_a_wrong_base_url(
        llm: LLM, fake_openai: FakeOpenAI) -> None:
    """Ollama answers a base URL without /v1 with a plain-text 404; OpenAI and vLLM name the
    model (vLLM with its own error shape)."""
    fake_openai.respond_with(lambda _: Scripted(status=404, raw=b"404 page not found"))
    with pytest.raises(ModelError, match="check OPENAI_BASE_URL"):
        await llm.complete(CHAT, None)
    fake_openai.fail(404)
    with pytest.raises(ModelError, match="check OPENAI_MODEL"):
        await llm.complete(CHAT, None)
    fake_openai.respond_with(lambda _: Scripted(status=404, body={
        "object": "error", "message": "The model `llama9` does not exist.",
        "type": "NotFoundError", "param": None, "code": 404}))
    with pytest.raises(ModelError, match="check OPENAI_MODEL"):
        await llm.complete(CHAT, None)
    assert len(fake_openai.requests) == 3


async def test_an_exhausted_quota_is_not_retried_as_a_rate_limit(
        llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(429, message="You exceeded your current quota, please check your plan "
                                  "and billing details.", kind="insufficient_quota",
                     code="insufficient_quota")
    with pytest.raises(ModelError) as raised:
        await llm.complete(CHAT, None)
    assert str(raised.value) == messages.model_quota(fake_openai.base_url)
    assert len(fake_openai.requests) == 1


async def test_an_html_error_page_gives_the_status_only(llm: LLM, fake_openai: FakeOpenAI
                                                        ) -> None:
    for _ in range(3):  # a proxy in front of the model: 502 three times, no JSON
        fake_openai.respond_with(lambda _: Scripted(status=502, raw=b"<html>Bad Gateway</html>",
                                                    headers={"retry-after": "0.01"}))
    with pytest.raises(ModelError) as raised:
        await llm.complete(CHAT, None)
    assert str(raised.value) == messages.model_failed(fake_openai.base_url, 502)
    assert len(fake_openai.requests) == 3


async def test_a_redirect_is_not_followed_with_the_key(llm: LLM, fake_openai: FakeOpenAI,
                                                       keyless: FakeOpenAI) -> None:
    fake_openai.respond_with(lambda _: Scripted(
        status=307, headers={"Location": f"{keyless.base_url}/chat/completions"}))
    with pytest.raises(ModelError, match=r"failed \(HTTP 307\)"):
        await llm.complete(CHAT, None)
    assert keyless.requests == []


async def test_a_dropped_connection_is_retried(llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.respond_with(lambda _: Scripted(drop=True))
    fake_openai.reply("second try")
    assert (await llm.complete(CHAT, None)).content == "second try"
    for _ in range(3):
        fake_openai.respond_with(lambda _: Scripted(drop=True))
    with pytest.raises(ModelError) as raised:
        await llm.complete(CHAT, None)
    assert str(raised.value) == messages.model_failed(fake_openai.base_url, None)
    assert len(fake_openai.requests) == 5


async def test_an_unreachable_endpoint_is_retried_then_explained() -> None:
    client = LLM(api_key="k", base_url="http://127.0.0.1:9/v1", model="m", max_retries=1)
    started = time.monotonic()
    try:
        with pytest.raises(ModelError, match="is unreachable: check OPENAI_BASE_URL"):
            await client.complete(CHAT, None)
    finally:
        await client.close()
    assert time.monotonic() - started >= 0.3  # one back-off of 0.5 s less jitter


def test_retry_delay_follows_the_server_then_backs_off() -> None:
    assert retry_delay({"retry-after-ms": "250"}, 0) == 0.25
    assert retry_delay({"retry-after": "2"}, 0) == 2.0
    later = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 < retry_delay({"retry-after": later}, 0) <= 10
    for headers in ({}, {"retry-after": "120"}, {"retry-after": "soon"}, {"retry-after": "0"}):
        assert 0.375 <= retry_delay(headers, 0) <= 0.5
        assert 0.75 <= retry_delay(headers, 1) <= 1.0
        assert 6.0 <= retry_delay(headers, 10) <= 8.0


async def test_model_calls_go_through_the_proxy(agent_services: Make,
                                               fake_openai: FakeOpenAI) -> None:
    """HTTP_PROXY points at the fake, which sees the absolute URL a proxy is sent."""
    services = await agent_services(openai_base_url="http://llm.invalid/v1",
                                    http_proxy=fake_openai.base_url.removesuffix("/v1"),
                                    openai_max_retries=0)
    result = await services.runs.ask("q", caller=Caller(user="U1"))
    assert result.text.startswith("The model endpoint (http://llm.invalid/v1) did not answer "
                                  "with a chat completion")
    assert fake_openai.paths == ["http://llm.invalid/v1/chat/completions"]


@pytest.mark.parametrize(("env", "url", "expected"), [
    ({"HTTPS_PROXY": "http://p:3128"}, "https://api.openai.com/v1", "http://p:3128"),
    ({"https_proxy": "http://p:3128"}, "https://api.openai.com/v1", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128"}, "http://localhost:11434/v1", None),
    ({"HTTP_PROXY": "http://p:3128"}, "http://ollama:11434/v1", "http://p:3128"),
    ({"HTTP_PROXY": "http://p:3128"}, "http://localhost:11434/v1", None),
    ({"HTTP_PROXY": "http://p:3128"}, "http://127.0.0.1:11434/v1", None),
    ({"HTTP_PROXY": "http://p:3128"}, "http://[::1]:11434/v1", None),
    ({"ALL_PROXY": "http://all:1"}, "https://api.openai.com/v1", "http://all:1"),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "openai.com"},
     "https://api.openai.com/v1", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, "https://api.openai.com/v1", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "ollama"},
     "https://api.openai.com/v1", "http://p:3128"),
])
def test_proxy_rules(env: dict[str, str], url: str, expected: str | None,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().proxy_for(url) == expected
