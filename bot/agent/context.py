"""What the model sees: the system prompt, the thread so far, trimmed to a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.redaction import redact

DEFAULT_SYSTEM_PROMPT = """\
You are an SRE assistant answering in a Slack incident thread. Investigate with the tools
you are given before you answer, and keep answers short: what is wrong, the evidence, and
the next step.
- Say which tools you ran and what they showed. Never invent command output, metrics,
  resource names or log lines: if a tool did not show it, you do not know it.
- If a tool fails, say so and work with what you have; do not retry the same call blindly.
- A result that starts with [cluster NAME] came from that cluster: name the cluster in
  your answer, and never mix clusters up.
- Prefer read-only checks. Never ask for secrets, and never repeat a secret you see.
- Use Slack-friendly Markdown: short paragraphs, bullet lists, `code` for names.
"""


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the thread; the bot's own are `assistant`."""

    role: Literal["user", "assistant"]
    text: str
    author: str | None = None


def load_system_prompt(text: str | None, file: Path | None) -> str:
    """The configured prompt: a file wins over inline text, which wins over the default."""
    if file is not None:
        return file.read_text(encoding="utf-8")
    return text or DEFAULT_SYSTEM_PROMPT


def estimate_tokens(text: str) -> int:
    """Roughly four characters a token, plus a little per message: enough for trimming."""
    return len(text) // 4 + 4


def build_messages(system: str, history: Sequence[HistoryMessage], question: str, *,
                   budget: int) -> list[dict[str, Any]]:
    """System prompt + as much recent history as fits + the question (always kept). What
    people typed is masked first: a key pasted into the thread never reaches the model."""
    kept: list[dict[str, Any]] = []
    question = redact(question)
    used = estimate_tokens(system) + estimate_tokens(question)
    for message in reversed(history):
        said = redact(message.text)
        text = said if message.role == "assistant" or not message.author else (
            f"{message.author}: {said}")
        cost = estimate_tokens(text)
        if used + cost > budget:
            break
        used += cost
        kept.append({"role": message.role, "content": text})
    kept.reverse()
    return [{"role": "system", "content": system}, *kept,
            {"role": "user", "content": question}]
