"""Settings: the runtime contract's variables, and one clear line for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError


def test_defaults_match_the_runtime_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DATABASE_URL", "PORT", "OPENAI_MODEL", "SLACK_API_URL", "PLUGINS_DIR"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/bot.db"
    assert settings.port == 3000
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.slack_api_url == "https://slack.com/api/"
    # ./plugins of the checkout, found wherever the command runs (builtins ship there)
    assert settings.plugins_dir == Path(__file__).resolve().parents[1] / "plugins"


def test_admin_users_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_ADMIN_USERS", " U1, U2 ,,U3")
    assert load_settings().bot_admin_users == ["U1", "U2", "U3"]


def test_malformed_values_give_one_line_naming_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setenv("TOOL_TIMEOUT", "-3")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("invalid settings: ")
    assert "PORT (Input should be a valid integer" in message
    assert "TOOL_TIMEOUT (Input should be greater than 0)" in message


def test_tokens_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-123-secret")
    settings = load_settings()
    assert "xoxb-123-secret" not in repr(settings)


def test_missing_for_run_names_what_http_mode_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(var, raising=False)
    assert load_settings().missing_for_run() == [
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)"]
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load_settings().missing_for_run() == ["SLACK_BOT_TOKEN"]
