"""Sentences about an agent run's own tools and records: paged tool outputs
(`read_tool_output`) and `/plugin runs`. Re-exported by `bot.messages`; import them from
there."""

from __future__ import annotations

__all__ = [
    "AGENT_VIEW_PROMPTS_TITLE",
    "AGENT_VIEW_STATUS",
    "FEEDBACK_NO_SUCH_ANSWER",
    "FEEDBACK_OTHER_CHANNEL",
    "FEEDBACK_UNREADABLE",
    "feedback_recorded",
    "feedback_summary",
    "output_bad_pattern",
    "output_grep_footer",
    "output_not_kept",
    "output_page_footer",
    "output_paged",
]


def output_paged(call_id: str, shown: int, total: int) -> str:
    return (f"\n… [{total - shown} more characters not shown (this is {shown:,} of {total:,}): "
            f"read_tool_output(call_id=\"{call_id}\", offset={shown}) reads on, or pass grep "
            "to find the lines you need]")


def output_page_footer(start: int, end: int, total: int, call_id: str) -> str:
    if end >= total:
        return f"\n… [characters {start:,}–{end:,} of {total:,}: the end of the output]"
    return (f"\n… [characters {start:,}–{end:,} of {total:,}: read_tool_output(call_id="
            f"\"{call_id}\", offset={end}) reads on]")


def output_grep_footer(pattern: str, shown: int, found: int) -> str:
    if found == 0:
        return f"No line matches {pattern!r}."
    more = f" (showing the first {shown})" if shown < found else ""
    return f"\n… [{found} lines match {pattern!r}{more}]"


def output_not_kept(call_id: str, kept: list[str]) -> str:
    choices = ", ".join(kept) if kept else "none in this run"
    return (f"No longer output is kept for call {call_id!r}; the calls whose output can be "
            f"read on: {choices}.")


def output_bad_pattern(pattern: str, error: str) -> str:
    return f"The grep pattern {pattern!r} is not a valid regular expression: {error}."


AGENT_VIEW_PROMPTS_TITLE = "Ask about your cluster, for example:"
AGENT_VIEW_STATUS = "is looking into it…"
FEEDBACK_UNREADABLE = "That feedback button could not be read; nothing was recorded."
FEEDBACK_NO_SUCH_ANSWER = ("That answer is not one this bot gave (or its record is gone); "
                           "nothing was recorded.")
FEEDBACK_OTHER_CHANNEL = ("Feedback counts only from the conversation where the answer was "
                          "given; nothing was recorded.")


def feedback_recorded(vote: str, before: str | None) -> str:
    mark = ":+1:" if vote == "good" else ":-1:"
    if before is None:
        return f"Thanks: your {mark} on this answer is recorded."
    if before == vote:
        return f"Your {mark} on this answer was already recorded."
    return f"Changed: your vote on this answer is now {mark}."


def feedback_summary(good: int, bad: int, days: int = 7) -> str:
    return f"*Answers, last {days} days:* :+1: {good}  ·  :-1: {bad}"
