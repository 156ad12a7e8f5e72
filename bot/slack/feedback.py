"""👍/👎 on each final answer: Slack's `feedback_buttons` under a streamed answer, plain
buttons under a posted one; a click is recorded with the run (who, which, when) and a later
click changes it. The run id in a button's value comes back from Slack untrusted: it is
checked before anything is written."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.errors import BotError, DatabaseFault
from bot.metrics import Metrics
from bot.slack.context import SlackContext
from bot.store.run_records import VOTES, RunRecords

log = logging.getLogger(__name__)
ACTION = re.compile(r"answer_feedback(_good|_bad)?")
VALUE = re.compile(rf"({'|'.join(VOTES)}):([0-9a-f]{{12}})")


def feedback_buttons(run_id: str) -> list[dict[str, Any]]:
    """The blocks under a streamed answer (chat.stopStream `blocks`)."""
    return [{"type": "context_actions", "block_id": "feedback", "elements": [{
        "type": "feedback_buttons", "action_id": "answer_feedback",
        "positive_button": {"text": {"type": "plain_text", "text": "Helpful"},
                            "accessibility_label": "This answer helped",
                            "value": f"good:{run_id}"},
        "negative_button": {"text": {"type": "plain_text", "text": "Not helpful"},
                            "accessibility_label": "This answer did not help",
                            "value": f"bad:{run_id}"}}]}]


def vote_buttons(run_id: str) -> dict[str, Any]:
    """The block under a posted answer, where feedback_buttons are not offered."""
    return {"type": "actions", "block_id": "feedback", "elements": [
        {"type": "button", "action_id": "answer_feedback_good", "value": f"good:{run_id}",
         "text": {"type": "plain_text", "text": ":+1:", "emoji": True}},
        {"type": "button", "action_id": "answer_feedback_bad", "value": f"bad:{run_id}",
         "text": {"type": "plain_text", "text": ":-1:", "emoji": True}}]}


def register(app: AsyncApp, ctx: SlackContext, *, records: RunRecords,
             metrics: Metrics | None = None) -> None:
    @app.action(ACTION)
    async def on_vote(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        value = str((body.get("actions") or [{}])[0].get("value") or "")
        found = VALUE.fullmatch(value)
        if found is None:
            log.warning("ignoring a feedback click with an unexpected value %.40r", value)
            await respond(text=messages.FEEDBACK_UNREADABLE, response_type="ephemeral",
                          replace_original=False)
            return
        clicked_in = (body.get("channel") or {}).get("id")
        try:
            before = await records.vote(found[2], body["user"]["id"], found[1],
                                        channel=clicked_in)
        except DatabaseFault as exc:
            await respond(text=messages.change_not_saved(str(exc)), response_type="ephemeral",
                          replace_original=False)
            return
        except BotError as exc:  # no such answer, or rated from elsewhere
            log.warning("refused a feedback click on run %s from %s in %s: %s", found[2],
                        body["user"]["id"], clicked_in, exc)
            await respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        if metrics is not None and before != found[1]:
            metrics.feedback.labels(vote=found[1]).inc()
        await respond(text=messages.feedback_recorded(found[1], before),
                      response_type="ephemeral", replace_original=False)
