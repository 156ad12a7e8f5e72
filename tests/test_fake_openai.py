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
