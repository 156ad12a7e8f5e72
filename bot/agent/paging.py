"""Large tool outputs are paged, not cut: the model gets the head of an output and a line
saying how much is left; the whole (masked) output is kept for the run, and the built-in
tool `read_tool_output` pages or greps it. The tool is offered only while the run has
outputs it was not shown whole."""

from __future__ import annotations

from typing import Any

import re2

from bot import messages
from bot.agent.ledger import RunLedger
from bot.plugin_host import compile_validator, parse_arguments

TOOL = "read_tool_output"
SCHEMA: dict[str, Any] = {"type": "function", "function": {
    "name": TOOL,
    "description": ("Read more of a tool output that was too long to show whole: a page from "
                    "an offset, or the lines matching a regular expression (grep)."),
    "parameters": {"type": "object", "properties": {
        "call_id": {"type": "string", "description": "The tool call whose output to read"},
        "offset": {"type": "integer", "minimum": 0,
                   "description": "Character offset to read from (default 0)"},
        "limit": {"type": "integer", "minimum": 1,
                  "description": "Most characters to return"},
        "grep": {"type": "string", "description": "Only lines matching this regular "
                                                  "expression (RE2 syntax, case-insensitive)"}},
        "required": ["call_id"], "additionalProperties": False}}}
_VALIDATOR = compile_validator(SCHEMA["function"]["parameters"])
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.case_sensitive = False


class Pager:
    """One run's kept outputs."""

    def __init__(self, records: RunLedger | None, run_id: str, limit: int) -> None:
        self.records, self.run_id, self.limit = records, run_id, limit
        self.kept: dict[str, int] = {}  # call id -> characters kept

    async def for_model(self, call_id: str, text: str) -> str:
        """What the model is shown of an output: all of it, or its head and how to read on."""
        if len(text) <= self.limit:
            return text
        head = text[:self.limit]
        if self.records is not None and await self.records.keep(self.run_id, call_id, text):
            self.kept[call_id] = len(text)
            return head + messages.output_paged(call_id, len(head), len(text))
        return head + messages.truncated(len(text) - len(head))

    async def read(self, raw: str) -> tuple[bool, str]:
        """Run `read_tool_output` on the model's raw arguments: (ok, text for the model)."""
        arguments, problem = parse_arguments(TOOL, _VALIDATOR, raw)
        if problem is not None:
            return False, problem
        call_id = arguments["call_id"]
        text = await self.records.output(self.run_id, call_id) \
            if self.records is not None and call_id in self.kept else None
        if text is None:
            return False, messages.output_not_kept(call_id, list(self.kept))
        limit = min(arguments.get("limit", self.limit), self.limit)
        if arguments.get("grep"):
            return _grep(text, arguments["grep"], limit)
        offset = arguments.get("offset", 0)
        page = text[offset:offset + limit]
        end = offset + len(page)
        return True, page + messages.output_page_footer(offset, end, len(text), call_id)


def _grep(text: str, pattern: str, limit: int) -> tuple[bool, str]:
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        return False, messages.output_bad_pattern(pattern, str(exc))
    found = [f"{number}: {line}" for number, line in enumerate(text.splitlines(), 1)
             if compiled.search(line)]
    shown, size = [], 0
    for line in found:
        if size + len(line) + 1 > limit:
            break
        shown.append(line)
        size += len(line) + 1
    return True, "\n".join(shown) + messages.output_grep_footer(pattern, len(shown), len(found))
