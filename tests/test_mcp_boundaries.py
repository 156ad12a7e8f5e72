"""MCP servers cannot change what an admin reviewed, nor be pointed where the operator did
not allow, nor flood the bot. Tried as a hostile server and a careless admin would, against
a real server written with the `mcp` SDK (tests/fakes/mcp_server.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from bot import messages
from bot.app import Services
from bot.errors import BotError, NotFoundError
from bot.plugin_host.contract.protocol import ErrorKind
from tests.fakes.mcp_server import McpTestServer
from tests.helpers.slack_harness import until

Make = Callable[..., Awaitable[Services]]
MIB = 2**20


@pytest.fixture
def server() -> Iterator[McpTestServer]:
    started = McpTestServer().start()
    yield started
    started.stop()


async def enabled(services: Services, server: McpTestServer) -> None:
    outcome = await services.mcp.add("incident", server.url, {}, actor="U_ADMIN")
    assert outcome.plugin is not None and outcome.plugin.tools, outcome.message
    await services.plugins.enable("incident", actor="U_ADMIN")


@pytest.mark.parametrize(("address", "kind"), [
    ("http://127.0.0.1:{port}/mcp", "loopback"),
    ("http://localhost:{port}/mcp", "loopback"),
    ("http://[::1]:{port}/mcp", "loopback"),
    ("http://2130706433:{port}/mcp", "loopback"),  # 127.0.0.1 written as one number
    ("http://[::ffff:127.0.0.1]:{port}/mcp", "loopback"),
    ("http://0.0.0.0:{port}/mcp", "unspecified"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
    ("http://[fe80::1]/mcp", "link-local"),
])
async def test_mcp_add_refuses_an_address_off_limits_and_stores_nothing(
        agent_services: Make, server: McpTestServer, address: str, kind: str) -> None:
    services = await agent_services(mcp_allow_cidrs=[])
    url = address.format(port=server.port)
    with pytest.raises(BotError) as refused:
        await services.mcp.add("incident", url, {}, actor="U_ADMIN")
    text = str(refused.value)
    assert f"is a {kind} address" in text and "MCP_ALLOW_CIDRS" in text
    with pytest.raises(NotFoundError):
        await services.plugins.info("incident")
    assert server.seen_headers == []  # the server never heard from the bot


@pytest.mark.parametrize("url", ["https://ops:hunter2@mcp.example.com/mcp",
                                 "https://mcp.example.com/mcp?token=abc123",
                                 "https://mcp.example.com/mcp?x=1&api_key=abc123"])
async def test_credentials_in_the_url_are_refused(agent_services: Make, url: str) -> None:
    services = await agent_services()
    with pytest.raises(BotError) as refused:
        await services.mcp.add("incident", url, {}, actor="U_ADMIN")
    assert str(refused.value) == messages.mcp_url_has_credentials()
    assert "abc123" not in str(refused.value) and "hunter2" not in str(refused.value)


async def test_a_server_that_never_lists_its_tools_is_one_sentence(
        agent_services: Make, server: McpTestServer) -> None:
    services = await agent_services(mcp_connect_timeout=1)
    server.mcp.hang_list = True
    started = time.monotonic()
    outcome = await services.mcp.add("incident", server.url, {}, actor="U_ADMIN")
    assert time.monotonic() - started < 10
    assert messages.mcp_list_timeout(f"127.0.0.1:{server.port}", 1) in outcome.message
    info = await services.plugins.info("incident")
    assert info.mcp is not None and info.mcp.last_error == messages.mcp_list_timeout(
        f"127.0.0.1:{server.port}", 1)


async def test_a_huge_tool_list_is_refused_unread(agent_services: Make) -> None:
    server = McpTestServer(huge_list=True).start()
    try:
        services = await agent_services(plugin_max_response_mb=1)
        outcome = await services.mcp.add("incident", server.url, {}, actor="U_ADMIN")
        assert messages.mcp_answer_too_large(f"127.0.0.1:{server.port}", MIB) in (
            outcome.message)
    finally:
        server.stop()


@pytest.mark.parametrize("huge_as", ["json", "sse", "announced"])
async def test_a_256_mib_result_is_refused_unread_and_the_server_still_works(
        agent_services: Make, huge_as: str) -> None:
    server = McpTestServer(huge_as=huge_as).start()
    try:
        services = await agent_services()
        await enabled(services, server)
        result = await services.registry.call("huge", {})
        assert (result.ok, result.error) == (False, ErrorKind.CRASHED)
        refused = (messages.mcp_answer_too_large(f"127.0.0.1:{server.port}", 4 * MIB)
                   if huge_as != "sse" else  # the SDK's own limit comes first: 1 MiB an event
                   "Server-sent event exceeded the 1048576 byte limit")
        assert refused in result.text and "x" * 100 not in result.text
        again = await services.registry.call("pod_status", {"namespace": "prod"})
        assert again.ok and "Running" in again.text
    finally:
        server.stop()


async def test_no_change_can_drop_an_approval_or_slip_in_unreviewed(
        agent_services: Make, server: McpTestServer) -> None:
    """The server says its destructive tool only reads now and rewrites another tool's
    description: nothing changes until an admin accepts, and even then the destructive
    tool still waits for an approval."""
    services = await agent_services()
    await enabled(services, server)
    before = services.registry.snapshot.get("pod_status")
    assert before is not None
    assert (await services.registry.call("soften", {})).ok
    pending = await until(lambda: _pending(services))
    assert pending == "changed pod_status"  # restart_pod's softer hints change nothing
    assert services.registry.snapshot.get("pod_status") == before  # still the reviewed one
    await services.mcp.accept("incident", actor="U_ADMIN")
    restart = services.registry.snapshot.get("restart_pod")
    assert restart is not None and services.registry.requires_approval(restart)
    assert restart.spec.writes  # it was destructive when reviewed: still a write
    status = services.registry.snapshot.get("pod_status")
    assert status is not None and "Secret" in status.spec.description  # accepted, audited
    event = (await services.audit.recent(1, target="incident"))[0]
    assert (event.action, event.actor) == ("mcp-accept", "U_ADMIN")


async def test_a_storm_of_change_notices_is_listed_once_or_twice(
        agent_services: Make, server: McpTestServer) -> None:
    services = await agent_services()
    await enabled(services, server)
    before = server.mcp.listings
    result = await services.registry.call("storm", {"count": 50})
    assert result.ok  # its change notices were handled before it returned
    assert 1 <= server.mcp.listings - before <= 2


async def _pending(services: Services) -> str | None:
    server = (await services.plugins.info("incident")).mcp
    return server.pending if server else None
