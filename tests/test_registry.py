"""The registry: frozen snapshots, argument validation, timeouts, errors as results."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot import messages
from bot.plugin_host.contract.protocol import Caller, ToolSpec
from bot.plugin_host.runtime.registry import Registry, Tool
from bot.sdk import ToolContext

PARAMS = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0},
                                           "s": {"type": "string"}},
          "required": ["n"], "additionalProperties": False}


def make_tool(name: str, handler: Any, *, timeout: float = 2.0, wants_ctx: bool = False,
              parameters: dict[str, Any] | None = None, plugin: str = "p") -> Tool:
    spec = ToolSpec(name=name, description=name, parameters=parameters or PARAMS,
                    timeout=timeout, handler=handler, wants_ctx=wants_ctx)

    async def invoke(spec: ToolSpec, args: Any, ctx: ToolContext) -> Any:
        kwargs = dict(args) | ({"ctx": ctx} if spec.wants_ctx else {})
        if asyncio.iscoroutinefunction(handler):
            return await handler(**kwargs)
        return await asyncio.to_thread(handler, **kwargs)

    return Tool.bind(spec, plugin=plugin, plugin_version="1.0", invoke=invoke,
                     default_timeout=30, config={"region": "eu"})


@pytest.fixture
def registry() -> Registry:
    return Registry(output_limit=300)


async def test_sync_and_async_handlers_return_text(registry: Registry) -> None:
    async def double(n: int, s: str = "") -> int:
        return n * 2
    registry.publish([make_tool("sync", lambda n, s="": f"got {n}"), make_tool("async", double)])
    first = await registry.call("sync", {"n": 3})
    second = await registry.call("async", '{"n": 4}')
    assert (first.ok, first.text, first.plugin) == (True, "got 3", "p")
    assert (second.ok, second.text) == (True, "8")


async def test_structured_results_are_json(registry: Registry) -> None:
    registry.publish([make_tool("data", lambda n, s="": {"pods": ["a", "b"], "n": n})])
    result = await registry.call("data", {"n": 1})
    assert json.loads(result.text) == {"pods": ["a", "b"], "n": 1}


async def test_unknown_tool_is_an_error_result_with_suggestion(registry: Registry) -> None:
    registry.publish([make_tool("dns_lookup", lambda n, s="": "")])
    result = await registry.call("dns_lokup", {"n": 1})
    assert not result.ok and result.error == "unknown_tool"
    assert result.text == messages.unknown_tool("dns_lokup", ["dns_lookup"])
    assert result.text.endswith("Did you mean 'dns_lookup'?")


async def test_arguments_that_are_not_json_are_refused(registry: Registry) -> None:
    calls: list[int] = []
    registry.publish([make_tool("t", lambda n, s="": calls.append(n))])
    result = await registry.call("t", "{n: 1")
    assert (result.ok, result.error) == (False, "bad_arguments")
    assert result.text.startswith(messages.bad_json_arguments("t", "Expecting property")[:-1])
    assert calls == []


async def test_arguments_must_be_an_object(registry: Registry) -> None:
    registry.publish([make_tool("t", lambda n, s="": "")])
    result = await registry.call("t", "[1, 2]")
    assert result.text == messages.arguments_not_object("t", "list")


async def test_schema_violations_are_all_listed_and_handler_not_run(registry: Registry) -> None:
    calls: list[int] = []
    registry.publish([make_tool("t", lambda n, s="": calls.append(n))])
    result = await registry.call("t", {"n": -1, "s": 5, "extra": True})
    assert result.error == "bad_arguments"
    assert result.text == messages.invalid_arguments("t", [
        "Additional properties are not allowed ('extra' was unexpected)",
        "n: -1 is less than the minimum of 0", "s: 5 is not of type 'string'"])
    assert calls == []


async def test_hanging_tool_is_stopped_at_its_timeout(registry: Registry) -> None:
    async def hang(n: int) -> None:
        await asyncio.sleep(60)
    registry.publish([make_tool("hang", hang, timeout=0.2)])
    started = time.monotonic()
    result = await registry.call("hang", {"n": 1})
    assert time.monotonic() - started < 2
    assert (result.ok, result.error) == (False, "timeout")
    assert result.text == "Tool 'hang' timed out after 0.2 s and was stopped."


async def test_hanging_sync_tool_is_stopped_at_its_timeout(registry: Registry) -> None:
    registry.publish([make_tool("block", lambda n: time.sleep(1.5), timeout=0.2)])
    result = await registry.call("block", {"n": 1})
    assert result.error == "timeout"


async def test_raising_tool_returns_an_error_result(registry: Registry) -> None:
    def fail(n: int) -> None:
        raise ValueError("cluster unreachable")
    registry.publish([make_tool("fail", fail)])
    result = await registry.call("fail", {"n": 1})
    assert (result.ok, result.error) == (False, "failed")
    assert result.text.startswith("Tool 'fail' failed: ValueError: cluster unreachable (")


async def test_long_output_is_truncated_with_a_visible_marker(registry: Registry) -> None:
    registry.publish([make_tool("big", lambda n: "x" * 1000)])
    result = await registry.call("big", {"n": 1})
    assert len(result.text) <= 300
    assert result.text.endswith(messages.truncated(780))


async def test_a_secret_on_the_truncation_boundary_is_masked_before_the_cut(
        registry: Registry) -> None:
    """Attack: truncation ran first and cut a token short of the length its pattern needs."""
    token = "ghp_" + "Z9y8X7w6" * 5
    registry.publish([make_tool("leaky", lambda n: "x" * 200 + " " + token + " " + "y" * 500)])
    result = await registry.call("leaky", {"n": 1})
    assert "truncated" in result.text
    assert "Z9y8X7" not in result.text and "[REDACTED]" in result.text


async def test_error_texts_are_masked_too(registry: Registry) -> None:
    def fail(n: int) -> None:
        raise ConnectionError("cannot reach postgres://app:hunter2-pw@db:5432/app")
    registry.publish([make_tool("fail", fail)])
    result = await registry.call("fail", {"n": 1})
    assert "hunter2-pw" not in result.text
    assert "postgres://app:[REDACTED]@db:5432/app" in result.text


async def test_ctx_carries_caller_and_plugin_config(registry: Registry) -> None:
    def whoami(n: int, *, ctx: ToolContext) -> dict[str, Any]:
        return {"user": ctx.user, "channel": ctx.channel, "plugin": ctx.plugin,
                "region": ctx.config["region"]}
    registry.publish([make_tool("whoami", whoami, wants_ctx=True)])
    result = await registry.call("whoami", {"n": 0}, Caller(user="U1", channel="C1"))
    assert json.loads(result.text) == {"user": "U1", "channel": "C1", "plugin": "p",
                                       "region": "eu"}


async def test_snapshot_held_by_a_reader_does_not_change_on_publish(registry: Registry) -> None:
    registry.publish([make_tool("a", lambda n: "a")])
    held = registry.snapshot
    registry.publish([make_tool("b", lambda n: "b")])
    assert list(held.tools) == ["a"] and list(registry.snapshot.tools) == ["b"]
    assert registry.snapshot.generation == held.generation + 1
    with pytest.raises(TypeError):
        held.tools["c"] = held.tools["a"]  # type: ignore[index]


async def test_listeners_hear_every_result_that_reached_a_tool(registry: Registry) -> None:
    heard: list[tuple[str, bool]] = []

    async def listener(tool: Tool, result: Any) -> None:
        heard.append((tool.spec.name, result.ok))
    registry.add_listener(listener)
    registry.publish([make_tool("t", lambda n: "ok")])
    await registry.call("t", {"n": 1})
    await registry.call("t", {"n": "bad"})
    await registry.settled()  # listeners hear outcomes off the call's path, in order
    assert heard == [("t", True)]


async def test_a_slow_listener_never_holds_a_call_and_hears_in_order(
        registry: Registry) -> None:
    heard: list[int] = []
    gate = asyncio.Event()

    async def slow(tool: Tool, result: Any) -> None:
        await gate.wait()
        heard.append(json.loads(result.text))
    registry.add_listener(slow)
    registry.publish([make_tool("t", lambda n, s="": n)])
    for n in range(3):  # each returns while the listener is stuck on the first
        assert (await asyncio.wait_for(registry.call("t", {"n": n}), 2)).ok
    assert heard == []
    gate.set()
    await registry.settled()
    assert heard == [0, 1, 2]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


async def test_a_result_nested_thousands_deep_is_refused_at_once() -> None:
    """Not at the timeout (the loop would have waited 30 s), and not as a bug in the bot."""
    registry = Registry(output_limit=300)
    registry.publish([make_tool("deep", lambda n, s="": _nested(5000), timeout=30)])
    result = await registry.call("deep", {"n": 1})
    assert (result.ok, result.error) == (False, "failed")
    assert result.text == messages.tool_result_unrenderable("deep")
    assert result.duration_ms < 30_000


async def test_a_tool_failure_of_an_unknown_kind_is_an_ordinary_failure(
        registry: Registry) -> None:
    from bot.sdk import ToolFailure

    def odd(n: int, s: str = "") -> str:
        raise ToolFailure("the backend said no", kind="teapot")
    registry.publish([make_tool("odd", odd)])
    result = await registry.call("odd", {"n": 1})
    assert (result.ok, result.error) == (False, "failed")
    assert result.text == messages.tool_failed("odd", "the backend said no")


async def test_a_long_output_is_masked_whole_as_far_as_it_is_kept() -> None:
    """A secret near the end of what is kept is masked; past the kept part and its margin
    nothing is masked, because nothing there is kept."""
    from bot.plugin_host.runtime.registry import MASK_MARGIN

    token = "ghp_" + "Z9y8X7w6" * 5
    registry = Registry(output_limit=200_000)
    text = "x" * 199_000 + f" {token} " + "y" * (MASK_MARGIN * 3)
    registry.publish([make_tool("big", lambda n, s="": text)])
    result = await registry.call("big", {"n": 1})
    assert result.ok and token not in result.text and "[REDACTED]" in result.text
    assert len(result.text) < 200_100 and "truncated" in result.text
