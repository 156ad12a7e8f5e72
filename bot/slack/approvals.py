"""Approvals in Slack: Approve/Deny buttons in the run's thread; only admins decide; no
decision within the timeout is a denial. Every request and decision is stored and audited."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.agent.approvals import Decision
from bot.plugin_host.protocol import Caller
from bot.slack import render
from bot.slack.context import SlackContext
from bot.store.approvals import ApprovalRequest, ApprovalStatus, ApprovalStore
from bot.store.audit import AuditLog

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class SlackApprover:
    def __init__(self, ctx: SlackContext, *, store: ApprovalStore, audit: AuditLog,
                 timeout: float) -> None:
        self.ctx = ctx
        self.timeout = timeout
        self.store = store
        self.audit = audit
        self._waiting: dict[str, asyncio.Future[Decision]] = {}

    async def __call__(self, *, tool: str, arguments: str, caller: Caller,
                       run_id: str) -> Decision:
        approval_id = uuid.uuid4().hex[:16]
        await self.store.request(ApprovalRequest(
            id=approval_id, run_id=run_id, tool=tool, arguments=arguments,
            requested_by=caller.user, channel=caller.channel, thread_ts=caller.thread_ts))
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[approval_id] = future
        posted = await self.ctx.client.chat_postMessage(
            channel=caller.channel or "", thread_ts=caller.thread_ts,
            text=messages.approval_needed(tool),
            blocks=render.approval_blocks(approval_id, tool, arguments, caller.user))
        try:
            return await self._wait(approval_id, tool, future)
        except TimeoutError:
            decision = Decision(False, None, messages.approval_expired(tool, self.timeout))
            await self.store.decide(approval_id, ApprovalStatus.EXPIRED, None, decision.text)
            await self._close(posted, messages.approval_expired_card(tool))
            return decision
        finally:
            self._waiting.pop(approval_id, None)

    async def _wait(self, approval_id: str, tool: str,
                    future: asyncio.Future[Decision]) -> Decision:
        """The click usually lands here (the future); with several replicas it may land on
        another one, which only updates the row: so the row is watched as well."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError
            try:
                return await asyncio.wait_for(asyncio.shield(future),
                                              min(POLL_SECONDS, remaining))
            except TimeoutError:
                row = await self.store.get(approval_id)
                if row is not None and row.status in (ApprovalStatus.APPROVED,
                                                      ApprovalStatus.DENIED):
                    who = f"<@{row.decided_by}>"
                    approved = row.status == ApprovalStatus.APPROVED
                    return Decision(approved, row.decided_by,
                                    messages.approval_approved(tool, who) if approved
                                    else messages.approval_denied(tool, who))

    async def decide(self, approval_id: str, user: str, *, approve: bool,
                     body: dict[str, Any], respond: Any) -> None:
        row = await self.store.get(approval_id)
        if row is None or row.status != ApprovalStatus.PENDING:
            await respond(text=messages.APPROVAL_NOT_PENDING,
                          response_type="ephemeral", replace_original=False)
            return
        if not self.ctx.is_admin(user):
            await self.audit.refusal(
                user, "approve" if approve else "deny", row.tool, messages.not_admin())
            await respond(text=messages.APPROVAL_ADMINS_ONLY,
                          response_type="ephemeral", replace_original=False)
            return
        who = f"<@{user}>"
        decision = Decision(approve, user, messages.approval_approved(row.tool, who) if approve
                            else messages.approval_denied(row.tool, who))
        await self.store.decide(approval_id, ApprovalStatus.APPROVED if approve
                                else ApprovalStatus.DENIED, user, decision.text)
        await respond(text=messages.approval_decided_card(row.tool, who, approved=approve),
                      replace_original=True)
        future = self._waiting.get(approval_id)
        if future is not None and not future.done():
            future.set_result(decision)

    async def _close(self, posted: Any, text: str) -> None:
        try:
            await self.ctx.client.chat_update(channel=posted["channel"], ts=posted["ts"],
                                              text=text, blocks=[])
        except Exception:
            log.warning("could not update the approval message", exc_info=True)


def register(app: AsyncApp, approver: SlackApprover) -> None:
    @app.action("approve_tool")
    async def on_approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await approver.decide(body["actions"][0]["value"], body["user"]["id"], approve=True,
                              body=body, respond=respond)

    @app.action("deny_tool")
    async def on_deny(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await approver.decide(body["actions"][0]["value"], body["user"]["id"], approve=False,
                              body=body, respond=respond)
