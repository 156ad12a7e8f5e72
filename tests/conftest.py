from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import Services, build_services
from bot.config import Settings, load_settings
from tests.plugin_factory import write_plugin

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    root = tmp_path / "plugins"
    for sub in ("builtins", "examples", "user_uploads"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def settings(tmp_path: Path, plugins_dir: Path) -> Settings:
    return load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                         plugins_dir=plugins_dir, tool_timeout=5)


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
