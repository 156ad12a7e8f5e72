"""Credentials at rest: MCP header values sealed with the operator's Fernet key.

`BOT_SECRET_KEY` holds one key, or several separated by commas: the first seals, every one
opens, so a key is rotated by putting the new one first and re-adding the servers. The
values are sealed as one token per server; their names stay in clear for `info`.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from bot import messages
from bot.config import parse_keys
from bot.errors import ConfigError


def new_key() -> str:
    """A fresh key for BOT_SECRET_KEY (`bot secret-key`)."""
    return Fernet.generate_key().decode()


class CredentialBox:
    """Seals and opens header values; without a key nothing can be stored."""

    def __init__(self, key: SecretStr | None) -> None:
        self._fernet = parse_keys(key.get_secret_value()) if key else None

    @property
    def usable(self) -> bool:
        return self._fernet is not None

    def seal(self, values: dict[str, str]) -> str:
        if self._fernet is None:
            raise ConfigError(messages.secret_key_needed())
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        """The values sealed in `token`; ConfigError when no key here opens it."""
        if self._fernet is None:
            raise ConfigError(messages.secret_key_missing_to_open())
        try:
            values = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ConfigError(messages.secret_key_cannot_open()) from None
        return {str(k): str(v) for k, v in values.items()}
