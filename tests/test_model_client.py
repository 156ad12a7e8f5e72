"""The model client (the `openai` SDK) against the fake OpenAI server, over real HTTP: what
it sends, what it accepts from OpenAI-compatible servers, its retries, its sentences,
streaming and its fallback, and Azure OpenAI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.agent.events import AnswerDelta
from bot.agent.llm import LLM, ModelError, Reply, ToolCall, Usage, parse_message
from bot.agent.loop import RunResult
from bot.app import Services
from bot.config import load_settings
from bot.plugin_host.contract.protocol import Caller
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
    assert await llm.complete(CHAT, tools) == Reply("hello", usage=Usage(10, 5))
    assert fake_openai.requests == [{"model": "gpt-4o-mini", "messages": CHAT,
                                     "tools": tools, "stream": True,
                                     "stream_options": {"include_usage": True}}]
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
    assert reply.tool_calls == (ToolCall("c1", "a", '{"x": 1}'), ToolCall("c2", "b", "{}"))
    assert reply.content is None


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
    fake_openai.streaming = "ignore"  # a server that answers whole even when asked to stream
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
    failed = messages.model_failed(fake_openai.base_url, None)  # and, past 1 s, how long:
    assert re.fullmatch(re.escape(failed.removesuffix(messages.TRY_AGAIN)) +
                        r"( \(tried for \d+ s\))?; please try again\.", str(raised.value))
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


async def ask_streaming(services: Services) -> tuple[RunResult, list[AnswerDelta]]:
    """Ask a question; the run's result and the answer's text as it was told."""
    deltas: list[AnswerDelta] = []

    async def observe(event: object) -> None:
        if isinstance(event, AnswerDelta):
            deltas.append(event)

    return await services.runs.ask("q", caller=Caller(user="U1"), observer=observe), deltas


async def test_answers_stream_and_tool_calls_split_across_chunks_are_assembled(
        agent_services: Make, fake_openai: FakeOpenAI, builtin: Callable[..., Path]) -> None:
    """The fake streams as OpenAI does: a tool call's id and name first, its arguments in
    two pieces; the answer a few words at a time."""
    builtin("alpha", tools={"alpha_echo": "return 'alpha:' + text"})
    services = await agent_services(enabled=("alpha",))
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("alpha_echo", {"text": "split me"})])
    answer = ("Line one of the answer.\nLine two, with more words.\nLine three.\n"
              "Line four is here.\nLine five.\nThe end.")
    fake_openai.reply(answer)
    result, deltas = await ask_streaming(services)
    assert result.text == answer
    assert fake_openai.messages(1)[-1]["content"] == "alpha:split me"  # arguments whole
    assert len(deltas) >= 2 and all(d.step == 2 for d in deltas)
    streamed = "".join(d.text for d in deltas)
    assert answer.startswith(streamed) and streamed  # told as it came, never ahead of it
    assert all(r.get("stream") is True for r in fake_openai.requests)


async def test_a_secret_in_a_streamed_answer_is_never_told(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services()
    fake_openai.reply("Found it in the pod env:\nDB_PASSWORD: hunter2-prod\nrotate it now.\n"
                      "Then restart.\nDone.")
    result, deltas = await ask_streaming(services)
    told = "".join(d.text for d in deltas)
    assert "hunter2" not in result.text and "hunter2" not in told
    assert "DB_PASSWORD: [REDACTED]" in told  # the line was told, masked


async def test_a_secret_split_from_its_key_across_lines_is_never_told(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services()
    fake_openai.reply('The config has:\n{"password":\n  "hunter2-prod"}\nand more\nlines\n'
                      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234567890abcdef\n"
                      "-----END RSA PRIVATE KEY-----\nend\nreally\nthe end")
    result, deltas = await ask_streaming(services)
    told = "".join(d.text for d in deltas)
    for secret in ("hunter2", "MIIEowIBAAKCAQEA1234567890abcdef"):
        assert secret not in told and secret not in result.text
    assert told.startswith("The config has:")


async def test_a_server_that_cannot_stream_is_asked_plainly_once(
        llm: LLM, fake_openai: FakeOpenAI) -> None:
    fake_openai.streaming = "refuse"
    fake_openai.reply("plain answer")
    fake_openai.reply("again plain")
    assert (await llm.complete(CHAT, None)).content == "plain answer"
    assert (await llm.complete(CHAT, None)).content == "again plain"
    assert [r.get("stream") for r in fake_openai.requests] == [True, None, None]
    assert llm.streams is False


async def test_a_server_that_ignores_stream_is_read_whole(llm: LLM,
                                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.streaming = "ignore"
    fake_openai.reply("whole answer")
    assert (await llm.complete(CHAT, None)).content == "whole answer"
    assert llm.streams is False


async def test_azure_settings_call_the_deployment_with_its_key(
        agent_services: Make, fake_openai: FakeOpenAI) -> None:
    services = await agent_services(openai_base_url=None,
                                    azure_openai_endpoint=fake_openai.base_url.removesuffix(
                                        "/v1"),
                                    openai_api_version="2024-10-21",
                                    openai_model="sre-gpt4o")
    fake_openai.reply("from azure")
    result = await services.runs.ask("q", caller=Caller(user="U1"))
    assert result.text == "from azure"
    assert fake_openai.paths == [
        "/openai/deployments/sre-gpt4o/chat/completions?api-version=2024-10-21"]
    assert fake_openai.request_headers[0]["api-key"] == fake_openai.api_key
    assert "Authorization" not in fake_openai.request_headers[0]


def test_commands_that_never_ask_the_model_do_not_import_the_sdk(tmp_path: Path) -> None:
    """Importing openai costs ~0.3 s and 15 MiB: `bot plugin list` must not pay it."""
    probe = ("import sys\nsys.argv = ['bot', 'plugin', 'list']\nfrom bot.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('SDK-LOADED' if 'openai' in sys.modules else 'SDK-ABSENT')\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "OPENAI_API_KEY": "sk-test",
                               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"})
    assert "kubectl" in done.stdout, done.stderr  # the command ran
    assert done.stdout.strip().endswith("SDK-ABSENT")
