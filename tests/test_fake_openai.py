"""The fake OpenAI server checked against the reference client, the `openai` SDK with strict
response validation: what the bot's own client is tested against must be what OpenAI sends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def sdk(fake_openai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url,
                                max_retries=1, _strict_response_validation=True)
    yield client
    await client.close()


async def test_completions_and_tool_calls_validate(sdk: openai.AsyncOpenAI,
                                                   fake_openai: FakeOpenAI) -> None:
    fake_openai.reply(tool_calls=[FakeOpenAI.tool_call("kubectl_get", {"kind": "pods"}, "c1")])
    fake_openai.reply("All pods are running.")
    first = await sdk.chat.completions.create(model="gpt-4o-mini",
                                              messages=[{"role": "user", "content": "q"}])
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (first.choices[0].finish_reason, call.id, call.function.name) == (  # type: ignore[union-attr]
        "tool_calls", "c1", "kubectl_get")
    second = await sdk.chat.completions.create(model="gpt-4o-mini",
                                               messages=[{"role": "user", "content": "q"}])
    assert second.choices[0].message.content == "All pods are running."
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini"]


async def test_errors_map_to_the_sdks_exceptions(sdk: openai.AsyncOpenAI,
                                                 fake_openai: FakeOpenAI) -> None:
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "q"}]}
    fake_openai.fail(404)
    with pytest.raises(openai.NotFoundError) as not_found:
        await sdk.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert not_found.value.code == "model_not_found"
    fake_openai.fail(429, headers={"retry-after": "0.01"})
    fake_openai.reply("after the limit")
    answer = await sdk.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert answer.choices[0].message.content == "after the limit"
    wrong = openai.AsyncOpenAI(api_key="sk-wrong", base_url=fake_openai.base_url)
    with pytest.raises(openai.AuthenticationError) as denied:
        await wrong.chat.completions.create(**ask)  # type: ignore[call-overload]
    await wrong.close()
    assert denied.value.code == "invalid_api_key"


CALL = {"id": "c1", "type": "function", "function": {"name": "kubectl_get", "arguments": "{}"}}
ASKED = {"role": "user", "content": "q"}
CALLED = {"role": "assistant", "content": None, "tool_calls": [CALL]}


@pytest.mark.refused_requests
@pytest.mark.parametrize(("messages", "param", "says"), [
    ([], "messages", "too short"),
    ([ASKED, {"role": "tool", "tool_call_id": "c1", "content": "x"}], "messages.[1].role",
     "must be a response to a preceeding message with 'tool_calls'"),
    ([ASKED, CALLED, {"role": "tool", "tool_call_id": "c2", "content": "x"}],
     "messages.[2].role", "must be a response"),
    ([ASKED, CALLED, {"role": "user", "content": "next"}], "messages.[1].role",
     "did not have response messages: c1"),
    ([ASKED, CALLED], "messages.[1].role", "did not have response messages: c1"),
    ([{"role": "robot", "content": "q"}], "messages.[0].role", "Supported values"),
])
async def test_conversations_the_api_refuses_are_refused(
        sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI, messages: list[dict[str, object]],
        param: str, says: str) -> None:
    """As the real API: a tool message answers a preceding `tool_calls` id, and every id is
    answered before the conversation goes on. A 400 the SDK reads, naming the message."""
    fake_openai.reply("never sent")
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="gpt-4o-mini",
                                          messages=messages)  # type: ignore[arg-type]
    assert refused.value.param == param and says in refused.value.message
    answer = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[ASKED, CALLED, {  # type: ignore[list-item]
            "role": "tool", "tool_call_id": "c1", "content": "x"}])
    assert answer.choices[0].message.content == "never sent"  # the script was not used


@pytest.mark.refused_requests
@pytest.mark.parametrize(("name", "says"), [
    ("kubectl.get", "does not match pattern"), ("x" * 65, "string too long"),
    ("", "does not match pattern")])
async def test_tool_names_the_api_refuses_are_refused(sdk: openai.AsyncOpenAI,
                                                      fake_openai: FakeOpenAI, name: str,
                                                      says: str) -> None:
    tools = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}]
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[ASKED],  # type: ignore[list-item]
                                          tools=tools)  # type: ignore[arg-type]
    assert refused.value.param == "tools[0].function.name" and says in refused.value.message


async def test_the_fake_runs_on_its_own_for_trying_the_console() -> None:
    """`python -m tests.fakes.openai_server --port N`, as the README says, read by the SDK."""
    import asyncio
    import socket
    import sys

    from tests.conftest import REPO

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port), cwd=REPO,
        stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 20)
        assert line.decode().startswith(f"fake model at http://127.0.0.1:{port}/v1")
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="any")
        tools = [{"type": "function", "function": {"name": "dns_lookup", "parameters": {
            "type": "object", "properties": {"host": {"type": "string"}}}}}]
        called = await client.chat.completions.create(
            model="gpt-4o-mini", tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": 'call dns_lookup {"host": "x"}'}])
        call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert (call.function.name, call.function.arguments) == (  # type: ignore[union-attr]
            "dns_lookup", '{"host": "x"}')
        await client.close()
    finally:
        server.terminate()
        await server.wait()
