from __future__ import annotations

import compileall
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import Services, build_services
from bot.config import Settings, load_settings
from bot.store.shared_runs import SharedRuns
from tests.fakes.k8s_server import FakeKubernetes
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.helpers.databases import migrated_sqlite_url
from tests.helpers.plugin_factory import write_plugin
from tests.helpers.processes import BotProcesses
from tests.helpers.slack_harness import SlackBot

REPO = Path(__file__).resolve().parents[1]
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def pytest_configure(config: pytest.Config) -> None:
    """Compile the bot's bytecode once, before the workers start. The tests start `bot` a
    few hundred times; where PYTHONDONTWRITEBYTECODE is set (CI images, this sandbox) each
    start compiled 130 modules again, 0.2 s of CPU that the suite's budget went on."""
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without -n
        for tree in ("bot", "plugins/builtins", "tests"):
            compileall.compile_dir(REPO / tree, quiet=1)


@pytest.fixture(scope="session", autouse=True)
def checkout_uploads_untouched() -> Iterator[None]:
    """No test may install into, claim or delete in the checkout's own plugins/user_uploads
    (the default PLUGINS_DIR): a developer's uploads live there."""
    uploads = REPO / "plugins" / "user_uploads"

    def listing() -> list[str]:
        return sorted(p.name for p in uploads.iterdir() if p.name != ".staging")
    before = listing()
    yield
    assert listing() == before, "a test changed plugins/user_uploads of the checkout"


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes are on 127.0.0.1; a proxy set on the machine running the tests (a CI
    runner's) must not carry the bot's calls to them (slack_sdk applies HTTPS_PROXY to any
    host). Tests of the proxy rules set their own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def kube_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test's own discovery cache (bot/kube/discovery_cache.py): a fake API server on
    a port an earlier test's had must not be read from that one's saved discovery, and no
    test writes to the developer's ~/.kube/cache."""
    root = tmp_path / "kube-cache"
    monkeypatch.setenv("KUBECACHEDIR", str(root))
    return root


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    root = tmp_path / "plugins"
    for sub in ("builtins", "examples", "user_uploads"):
        (root / sub).mkdir(parents=True)
    return root


# Two bots with different databases on one host need different uid ranges (docs/plugins.md):
# so do two test runs on one machine, or one's reaping kills the other's workers.
_SLOT = 300_000 + (os.getpid() % 800) * 2_100
UID_RANGE = f"{_SLOT}-{_SLOT + 2_099}"
LOOPBACK = "127.0.0.1/32"


@pytest.fixture
def settings(tmp_path: Path, plugins_dir: Path) -> Settings:
    # slack_streaming off: these tests read the status message and final post (the path
    # for workspaces that cannot stream); tests/test_slack_streaming.py turns it on
    # MCP_ALLOW_CIDRS: the test MCP servers listen on loopback, which `mcp add` refuses
    # unless the operator allows it (tests of that refusal set it empty)
    return load_settings(database_url=migrated_sqlite_url(tmp_path / "bot.db"),
                         plugins_dir=plugins_dir, tool_timeout=5, plugin_uid_range=UID_RANGE,
                         slack_streaming=False, mcp_allow_cidrs=[LOOPBACK])


@pytest.fixture
def builtin(plugins_dir: Path) -> Callable[..., Path]:
    """Write a plugin into the builtins directory."""

    def make(name: str, source: str | None = None, **kwargs: object) -> Path:
        return write_plugin(plugins_dir / "builtins", name, source, **kwargs)

    return make


ServicesFactory = Callable[..., Awaitable[Services]]


@pytest.fixture
async def make_services(settings: Settings) -> AsyncIterator[ServicesFactory]:
    """Build services (a 'process' of the bot) on the test database; closes them all."""
    built: list[Services] = []

    async def make(*, enabled: tuple[str, ...] = ()) -> Services:
        services = await build_services(settings, default_enabled=frozenset(enabled))
        built.append(services)
        return services

    yield make
    for services in built:
        await services.close()


def bwrap_usable() -> bool:
    from bot.plugin_host.sandbox.confine import Sandbox
    from bot.plugin_host.sandbox.detect import detect_sandbox

    sandbox = detect_sandbox(mode="auto")
    return isinstance(sandbox, Sandbox) and sandbox.kind == "bwrap"


SANDBOX_MODES = ["process", "bwrap"]


@pytest.fixture(params=SANDBOX_MODES)
def sandbox_mode(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap" and not bwrap_usable():
        if os.environ.get("CI"):
            pytest.fail("bubblewrap must be usable in CI (.ci/run installs it)")
        pytest.skip("bubblewrap is not installed or not usable here")
    return request.param


@pytest.fixture
def upload_settings(tmp_path: Path, plugins_dir: Path) -> Callable[..., Settings]:
    """Settings for upload tests: small limits and timeouts so faults show up fast."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": migrated_sqlite_url(tmp_path / "bot.db"),
            "plugins_dir": plugins_dir, "tool_timeout": 5, "plugin_sandbox": "process",
            "plugin_probe_timeout": 3, "plugin_worker_memory_mb": 256,
            "plugin_max_consecutive_failures": 3, "plugin_uid_range": UID_RANGE}
        return load_settings(**(values | overrides))

    return make


@pytest.fixture
async def upload_services(upload_settings: Callable[..., Settings]
                          ) -> AsyncIterator[Callable[..., Awaitable[Services]]]:
    built: list[Services] = []

    async def make(**overrides: object) -> Services:
        services = await build_services(upload_settings(**overrides),
                                        default_enabled=frozenset())
        built.append(services)
        return services

    yield make
    for services in built:
        await services.close()


async def snapshot_state(services: Services) -> tuple[object, ...]:
    """Everything an install may change: files under user_uploads and the plugin rows."""
    uploads = services.settings.plugins_dir / "user_uploads"
    files = sorted((str(p.relative_to(uploads)), p.read_bytes() if p.is_file() else b"")
                   for p in uploads.rglob("*") if p.relative_to(uploads).parts[0] != ".staging")
    plugins = [(p.name, p.status, p.enabled, p.version, [v.sha256 for v in p.versions])
               for p in await services.plugins.list()]
    return tuple(files), tuple(map(str, plugins))


@pytest.fixture
def fake_openai(request: pytest.FixtureRequest) -> Iterator[FakeOpenAI]:
    """The fake model; a request the real API would refuse fails the test that caused it
    (unless the test is about such requests: `@pytest.mark.refused_requests`)."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()
    if request.node.get_closest_marker("refused_requests") is None:
        assert not fake.rejected, f"the bot sent requests the API refuses: {fake.rejected}"


@pytest.fixture
async def agent_services(settings: Settings, fake_openai: FakeOpenAI
                         ) -> AsyncIterator[Callable[..., Awaitable[Services]]]:
    """Services whose model is the fake OpenAI server."""
    built: list[Services] = []

    async def make(*, enabled: tuple[str, ...] = (), **overrides: object) -> Services:
        values: dict[str, object] = {
            "openai_base_url": fake_openai.base_url, "openai_api_key": fake_openai.api_key,
            "openai_max_retries": 1, "openai_timeout": 10}
        custom = with_overrides(settings, **(values | overrides))
        services = await build_services(custom, default_enabled=frozenset(enabled))
        built.append(services)
        return services

    yield make
    for services in built:
        await services.close()


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    """The fake Kubernetes API, serving tests/fakes/k8s/cluster.yaml."""
    fake = FakeKubernetes().start()
    yield fake
    fake.stop()


def with_overrides(settings: Settings, **values: object) -> Settings:
    """`settings` with some values replaced, validated again like the environment's."""
    return load_settings(**(settings.model_dump() | values))


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
async def slack_bot(settings: Settings, fake_slack: FakeSlack, fake_openai: FakeOpenAI
                    ) -> AsyncIterator[Callable[..., Awaitable[SlackBot]]]:
    """The bot's real Slack endpoint (Bolt, HTTP mode) on a free port, over the fakes."""
    import aiohttp

    from bot.slack.app import build_slack_app, serve_http

    started: list[tuple[Services, object, object, aiohttp.ClientSession]] = []

    async def make(*, enabled: tuple[str, ...] = (), **overrides: object) -> SlackBot:
        values: dict[str, object] = {
            "slack_bot_token": BOT_TOKEN, "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.api_url, "bot_admin_users": ["U_ADMIN"],
            "bot_admin_channel": "C_ADMIN", "openai_base_url": fake_openai.base_url,
            "openai_api_key": fake_openai.api_key, "openai_max_retries": 0,
            "plugin_sandbox": "process"}
        custom = with_overrides(settings, **(values | overrides))
        services = await build_services(custom, default_enabled=frozenset(enabled))
        endpoint = build_slack_app(services)
        await endpoint.start()
        await services.plugins.join(endpoint.shared.replica)  # a replica, as `bot run` is
        front = await serve_http(endpoint, port=0, host="127.0.0.1")
        port = front.port
        session = aiohttp.ClientSession()
        started.append((services, front, endpoint, session))
        return SlackBot(f"http://127.0.0.1:{port}/slack/events", fake_slack, session,
                        ai=fake_openai, services=services, endpoint=endpoint)

    yield make
    for services, front, endpoint, session in started:
        await session.close()
        await front.close()  # type: ignore[attr-defined]
        await endpoint.drain()  # type: ignore[attr-defined]
        await services.plugins.leave()
        await services.close()


def subprocess_env(tmp_path: Path, plugins_dir: Path, *, fresh: bool = False,
                   **extra: str) -> dict[str, str]:
    """The environment for running `bot` in a subprocess: none of the developer's Slack,
    OpenAI or database settings, a database in tmp_path, the test's plugins. The database
    is a migrated copy of the template (migrating a new file costs each first `bot` ~0.7 s
    of CPU), unless the test is about a `fresh` one (none yet, or one `bot` creates)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SLACK_", "OPENAI_", "BOT_", "DATABASE_", "PLUGINS_"))
             and k.upper() not in PROXY_VARIABLES}
    path = tmp_path / "bot.db"
    url = (f"sqlite+aiosqlite:///{path}" if fresh or "DATABASE_URL" in extra
           else migrated_sqlite_url(path))
    return clean | {"DATABASE_URL": url, "PLUGINS_DIR": str(plugins_dir),
                    "PLUGIN_UID_RANGE": UID_RANGE, "MCP_ALLOW_CIDRS": LOOPBACK, **extra}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One throwaway PostgreSQL server for the run (tests/helpers/postgres.py); each test makes its
    own database on it."""
    from tests.helpers import postgres

    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must be installed in CI (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres.server() as base:
        yield base


@pytest.fixture
def base_env(tmp_path: Path, plugins_dir: Path) -> dict[str, str]:
    """The environment of a `bot run` subprocess, with the builtin plugin `alpha`."""
    write_plugin(plugins_dir / "builtins", "alpha")
    # SLACK_STREAMING=off: the status message and final post; test_slack_streaming streams
    return subprocess_env(tmp_path, plugins_dir, PLUGIN_SANDBOX="process",
                          SLACK_STREAMING="off")


@pytest.fixture
def bot_process(base_env: dict[str, str], fake_slack: FakeSlack, fake_openai: FakeOpenAI
                ) -> Iterator[BotProcesses]:
    """`bot run` as a real process against the fakes; stopped when the test ends."""
    processes = BotProcesses(base_env, fake_slack.api_url, fake_openai.base_url,
                             fake_openai.api_key)
    yield processes
    processes.stop_all()


@pytest.fixture
async def replicas() -> AsyncIterator[Callable[[Services], Awaitable[SharedRuns]]]:
    """Make a process a beating replica, as `bot run` does."""
    started: list[tuple[SharedRuns, Services]] = []

    async def join(services: Services) -> SharedRuns:
        shared = SharedRuns(services.db)

        async def lost(run: object) -> None:
            raise AssertionError(run)

        await shared.start(on_stop=lambda run: None, on_lost=lost)
        await services.plugins.join(shared.replica)
        started.append((shared, services))
        return shared

    yield join
    for shared, services in started:
        await services.plugins.leave()
        await shared.close()
