"""DATABASE_URL: parsed when the database is opened, given its async driver, and checked
that the driver is installed — so that a typo or a missing extra is one line at start, not
a traceback."""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

# The async driver for each backend name, and how to install the ones we do not ship.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
INSTALL_HINT = {"asyncpg": "pip install -e '.[postgres]'"}


def normalise_database_url(value: str) -> str:
    """The URL with its async driver (`postgresql://` → `postgresql+asyncpg://`); a
    ValueError (one sentence) for a URL SQLAlchemy cannot parse, a backend we do not run
    on, or a driver that is not installed."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("is not a database URL; use e.g. sqlite+aiosqlite:///./data/bot.db "
                         "or postgresql://user:password@host/dbname") from None
    backend = url.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"names the {backend!r} backend; the bot runs on "
                         f"{' or '.join(sorted(ASYNC_DRIVERS))}")
    driver = ASYNC_DRIVERS[backend]
    if "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+{driver}")
    elif url.get_driver_name() != driver:
        raise ValueError(f"uses the {url.get_driver_name()!r} driver; the bot needs "
                         f"{backend}+{driver}://")
    if importlib.util.find_spec(driver) is None:
        hint = INSTALL_HINT.get(driver, f"pip install {driver}")
        raise ValueError(f"needs the {driver} driver, which is not installed: {hint}")
    return url.render_as_string(hide_password=False)


def checked_database_url(value: str) -> str:
    """`normalise_database_url`, its problem told as the bad setting it is (ConfigError):
    the store, not `config`, knows URLs (only the store imports SQLAlchemy)."""
    try:
        return normalise_database_url(value)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: DATABASE_URL ({exc})") from None
