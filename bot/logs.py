"""Log lines an operator can read (LOG_FORMAT=text) or a log pipeline can parse
(LOG_FORMAT=json: one JSON object per line), masked either way.

Where a line is written inside an agent run, the run's id, channel, thread and user are
known, and inside a tool call its tool and plugin: `bind` keeps them in a context
variable, so every line written there carries them (asyncio tasks copy it, so the tool
calls of one step, run concurrently, each keep their own).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from bot.redaction import RedactingFormatter, redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("run_id", "channel", "thread", "user", "plugin", "tool")
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None)


@contextlib.contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Add `fields` (those not None) to every log line written inside the block."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound fields, and the
    traceback as one string; every string masked."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": redact(record.getMessage())}
        line.update({k: redact(v) for k, v in (_context.get() or {}).items() if k in FIELDS})
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else RedactingFormatter(TEXT_FORMAT)


# Libraries whose DEBUG lines carry request and response bodies: Slack events and slash
# commands (URL-encoded, which no pattern can mask), thread histories as people typed them,
# model prompts with tool outputs, Kubernetes and MCP payloads — and SQLAlchemy, whose INFO
# lines are every statement with its parameters. LOG_LEVEL=DEBUG is for the bot's own
# lines; these stay at their floor whatever it says.
QUIET_LIBRARIES = {"slack_bolt": logging.INFO, "slack_sdk": logging.INFO,
                   "openai": logging.INFO, "httpx": logging.INFO, "httpx2": logging.INFO,
                   "httpcore": logging.INFO, "mcp": logging.INFO, "aiohttp": logging.INFO,
                   "urllib3": logging.INFO, "kubernetes": logging.INFO,
                   "asyncio": logging.INFO, "uvicorn": logging.INFO, "alembic": logging.INFO,
                   "sqlalchemy": logging.WARNING, "aiosqlite": logging.WARNING,
                   "asyncpg": logging.WARNING}


def configure(level: str, kind: str) -> None:
    """The process's logging: one masking handler on stderr at `level`, the libraries
    above never below their floor."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(kind))
    logging.basicConfig(level=level, handlers=[handler])
    wanted = logging.getLevelName(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(wanted, floor))
