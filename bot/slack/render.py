"""Block Kit rendering: pure functions from values to Slack payloads."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bot import messages
from bot.plugin_host import DM, EVERYWHERE, InstallResult, PluginInfo
from bot.text_render import replica_lines

SECTION_LIMIT = 2900  # Slack: 3,000 characters per section text
BLOCKS_PER_MESSAGE = 50
MESSAGE_LIMIT = 39_000  # Slack truncates messages over 40,000 characters
FALLBACK_LIMIT = 3000

_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"(?m)^#{1,6}\s+(.+?)\s*#*$")
_BULLET = re.compile(r"(?m)^(\s*)[-*+]\s+")


def escape(text: str) -> str:
    """Slack's control characters as text: `<!channel>`, `<@U1>` and `<http://x|y>` from a
    plugin, a tool or the model then render literally instead of pinging or disguising."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Markdown as models write it → Slack mrkdwn, everything escaped first (the model may
    repeat what a tool said); code spans and blocks are not reformatted."""
    parts = re.split(r"(```[\s\S]*?```|`[^`\n]+`)", markdown)
    out = []
    for part in parts:
        part = escape(part)
        if part.startswith("`"):
            out.append(part)
            continue
        part = _LINK.sub(lambda m: _link(m[1], m[2], lambda t, u: f"<{u}|{t}>"), part)
        part = _ITALIC.sub(r"_\1_", part)
        part = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", part)
        part = _HEADING.sub(r"*\1*", part)
        part = _BULLET.sub(r"\1• ", part)
        out.append(part)
    return "".join(out)


def markdown_safe(markdown: str) -> str:
    """Markdown for Slack's markdown blocks and streamed `markdown_text` chunks, escaped as
    posted messages are: no `<!channel>`, `<!here>`, `<@U…>`, `<#C…>` or `<url|text>` from
    a tool or the model, and no link whose text names another address than it goes to."""
    return _LINK.sub(lambda m: _link(m[1], m[2], lambda t, u: f"[{t}]({u})"),
                     escape(markdown))


_LOOKS_LIKE_ADDRESS = re.compile(r"(?i)(?:[a-z][a-z0-9+.-]*://)?(?:[\w-]+\.)+[a-z]{2,}\b")


def _link(text: str, url: str, make: Any) -> str:
    """A link as `make(text, url)` builds it, unless its text looks like an address other
    than where it goes (`[grafana.example.com](https://evil.test)`): then the text and
    the real address, side by side, and no link text to hide behind."""
    shown = _LOOKS_LIKE_ADDRESS.search(text)
    if shown and _host(shown[0]) != _host(url):
        return f"{text} ({url})"
    return str(make(text, url))


def _host(address: str) -> str:
    return urlsplit(address if "://" in address else f"//{address}").hostname or ""


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut text into pieces under `limit`, at paragraph or line ends, keeping code fences
    balanced in every piece."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:  # one enormous line
            pieces += _flush(current)
            current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            pieces += _flush(current)
            current = ""
        current += line
    pieces += _flush(current)
    return _balance_fences(pieces)


def _flush(text: str) -> list[str]:
    return [text] if text.strip() else []


def _balance_fences(pieces: list[str]) -> list[str]:
    balanced, open_fence = [], False
    for piece in pieces:
        text = ("```\n" + piece) if open_fence else piece
        if text.count("```") % 2 == 1:
            text += "\n```"
            open_fence = True
        else:
            open_fence = False
        balanced.append(text.strip("\n"))
    return balanced


def answer_messages(markdown: str) -> list[dict[str, Any]]:
    """The answer as one or more messages: sections under 3,000 characters, at most 50
    blocks and under Slack's 40,000-character message limit each."""
    messages: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    size = 0
    for piece in split_text(to_mrkdwn(markdown)):
        if blocks and (len(blocks) == BLOCKS_PER_MESSAGE or size + len(piece) > MESSAGE_LIMIT):
            messages.append(_message(blocks))
            blocks, size = [], 0
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
        size += len(piece)
    if blocks:
        messages.append(_message(blocks))
    return messages or [{"text": "(empty answer)"}]


def _message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    fallback = "\n".join(b["text"]["text"] for b in blocks)[:FALLBACK_LIMIT]
    return {"text": fallback, "blocks": blocks}


def status_blocks(lines: Sequence[str], *, run_id: str | None, done: bool = False
                  ) -> list[dict[str, Any]]:
    """The run's status message: what ran so far, and a Stop button while it runs."""
    body = "\n".join(lines[-40:]) or "Working on it…"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {
        "type": "mrkdwn", "text": body[-SECTION_LIMIT:]}}]
    if run_id and not done:
        blocks.append({"type": "actions", "block_id": "run_controls", "elements": [{
            "type": "button", "action_id": "stop_run", "style": "danger", "value": run_id,
            "text": {"type": "plain_text", "text": "Stop"}}]})
    return blocks


def tool_line(tool: str, arguments: object) -> str:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments,
                                                                   ensure_ascii=False)
    return f":hammer_and_wrench: `{tool}` `{escape(args[:200])}`"


def tool_done_line(tool: str, ok: bool, duration_ms: float, summary: str) -> str:
    if ok:
        return f":white_check_mark: `{tool}` ({duration_ms:.0f} ms)"
    return f":x: `{tool}` ({duration_ms:.0f} ms): {escape(summary[:200])}"


def code(text: str) -> str:
    text = escape(text)
    return f"```{text}```" if "\n" in text else text


def install_card(result: InstallResult, *, can_enable: bool) -> dict[str, Any]:
    if not result.ok:
        problems = "\n".join(f"• {escape(str(p))}" for p in result.problems) or \
            escape(result.message)
        text = f":no_entry: *Refused `{escape(result.filename)}`*\n{problems}"
        return {"text": escape(result.message), "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}]}
    fields = [("Plugin", f"`{result.name}` {result.version}"),
              ("Tools", ", ".join(f"`{t}`" for t in result.tools) or "none"),
              ("Permissions", ", ".join(result.permissions) or "none"),
              ("Sandbox", result.sandbox or "none"),
              ("SHA-256", f"`{result.sha256[:16]}…`")]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f":package: {escape(result.message)}"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"}
                                       for k, v in fields]}]
    if result.warnings:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": escape("\n".join(result.warnings)[:2000])}]})
    if can_enable:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "plugin_enable", "style": "primary",
            "value": result.name, "text": {"type": "plain_text", "text": "Enable"}}]})
    return {"text": escape(result.message), "blocks": blocks}


STATUS_EMOJI = {"enabled": ":large_green_circle:", "disabled": ":white_circle:",
                "error": ":red_circle:"}


def home_view(plugins: Sequence[PluginInfo], *, is_admin: bool, admin_channel: str | None
              ) -> dict[str, Any]:
    """The App Home tab: a card per plugin, buttons for admins, upload instructions."""
    upload = (f"Upload a plugin `.zip` or `.py` in <#{admin_channel}> (admins only)."
              if admin_channel else messages.uploads_off())
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Plugins"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": upload}]},
        {"type": "divider"}]
    for p in plugins[:30]:
        blocks += _plugin_card(p, is_admin=is_admin)
    return {"type": "home", "blocks": blocks[:100]}


def _plugin_card(p: PluginInfo, *, is_admin: bool) -> list[dict[str, Any]]:
    lines = [f"{STATUS_EMOJI.get(p.status, '')} *{p.name}* {p.version or ''} · {p.source} · "
             f"{p.status}", escape(p.description) or "_no description_",
             "Tools: " + (", ".join(f"`{t.name}`" + (" (approval)" if t.requires_approval
                                                       else "") for t in p.tools) or "none"),
             "Permissions: " + (", ".join(p.permissions) or "none"),
             "Runs in: " + p.sandbox, "Where: " + slack_where(p.channels)]
    if p.settings and is_admin:  # an admin's words, escaped, for admins only
        lines.append("Settings: " + "; ".join(
            escape(messages.assignments(dict(sorted(values.items()))))
            + f" ({slack_where(None if scope == EVERYWHERE else [scope])})"
            for scope, values in sorted(p.settings.items())))
    if p.mcp is not None:  # what the server said about itself is its own text: escaped
        where = p.mcp.url or "stdio (MCP_SERVERS)"
        lines.append(f"MCP server: {escape(p.mcp.server or 'not reached yet')} · "
                     f"{escape(where)}")
        if p.mcp.last_error and p.mcp.last_error != p.error:
            lines.append(f":warning: last error: {escape(p.mcp.last_error[:300])}")
        if p.mcp.pending:  # tool names passed the plugin checks; escaped all the same
            lines.append(f":mag: to review: the server lists other tools now "
                         f"({escape(p.mcp.pending[:300])}): `/plugin mcp accept {p.name}`")
    if p.error:
        lines.append(f":warning: {escape(p.error[:500])}")
    placement = replica_lines(p)
    if placement:
        lines.append("Replicas: " + escape("; ".join(placement)[:500]))
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn",
                                                           "text": "\n".join(lines)}}
    if is_admin:
        enable = not p.enabled
        section["accessory"] = {
            "type": "button", "action_id": "plugin_toggle", "value": p.name,
            "text": {"type": "plain_text", "text": "Enable" if enable else "Disable"},
            **({"style": "primary"} if enable else {})}
    return [section, {"type": "divider"}]


def slack_where(channels: Sequence[str] | None) -> str:
    """Where a plugin is offered, with channels as Slack links (IDs checked on the way in)."""
    if channels is None:
        return "everywhere"
    return ", ".join("direct messages" if c == DM else f"<#{c}>" for c in channels) or "-"


APPROVAL_ARGUMENTS_SHOWN = 2500  # longer arguments are attached whole, in the thread


def approval_blocks(approval_id: str, tool: str, arguments: str, requested_by: str | None,
                    digest: str) -> list[dict[str, Any]]:
    """The card: what will run (the whole arguments, or their beginning and a line saying
    the rest is attached), and the fingerprint the approval is bound to."""
    who = f" for <@{requested_by}>" if requested_by and requested_by.startswith("U") else ""
    shown = escape(arguments[:APPROVAL_ARGUMENTS_SHOWN])
    rest = messages.approval_long_arguments(APPROVAL_ARGUMENTS_SHOWN, len(arguments)) \
        if len(arguments) > APPROVAL_ARGUMENTS_SHOWN else ""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f":raised_hand: Approval needed{who}: run `{tool}` with\n```{shown}```"
            f"{rest}\nFingerprint `{digest[:12]}`: exactly these arguments run, or none.")}},
        {"type": "actions", "block_id": "approval", "elements": [
            {"type": "button", "action_id": "approve_tool", "style": "primary",
             "value": approval_id, "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "deny_tool", "style": "danger",
             "value": approval_id, "text": {"type": "plain_text", "text": "Deny"}}]}]
