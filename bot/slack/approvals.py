"""Approvals in Slack: Approve/Deny buttons in the run's thread; only admins decide; no
decision within the timeout is a denial. Every request and decision is stored and audited."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.agent.approvals import Decision
from bot.plugin_host import Caller
from bot.slack import render
from bot.slack.context import SlackContext
from bot.store.approvals import ApprovalRequest, ApprovalStatus, ApprovalStore
from bot.store.audit import AuditLog
from bot.store.changes import APPROVALS, ChangeFeed

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


RunAlive = Callable[[str], Awaitable[bool]]


class SlackApprover:
    """Asks for approvals and takes the clicks. A request lives only as long as its run: a
    run that ends while it waits (Stop, a shutdown) closes its card as expired, and a click
    on a request whose run is gone (its replica killed) expires it and says so — an admin
    is never told "Approved" for a call that will not run."""

    def __init__(self, ctx: SlackContext, *, store: ApprovalStore, audit: AuditLog,
                 timeout: float, feed: ChangeFeed | None = None,
                 run_alive: RunAlive | None = None) -> None:
        self.ctx = ctx
        self.run_alive = run_alive  # whether a run still runs, on whichever replica
        self.feed = feed  # a decision taken on another replica, heard at once (PostgreSQL)
        self.timeout = timeout
        self.store = store
        self.audit = audit
        self._waiting: dict[str, asyncio.Future[Decision]] = {}

    @property
    def pending(self) -> int:
        """Approvals this replica's runs wait for."""
        return len(self._waiting)

    async def __call__(self, *, tool: str, arguments: str, digest: str, caller: Caller,
                       run_id: str) -> Decision:
        approval_id = uuid.uuid4().hex[:16]
        if not await self._attach_if_long(tool, arguments, digest, caller):
            return Decision(False, None, messages.approval_arguments_unshown(tool))
        await self.store.request(ApprovalRequest(
            id=approval_id, run_id=run_id, tool=tool, arguments=arguments,
            arguments_sha256=digest, requested_by=caller.user, channel=caller.channel,
            thread_ts=caller.thread_ts))
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[approval_id] = future
        posted = await self.ctx.client.chat_postMessage(
            channel=caller.channel or "", thread_ts=caller.thread_ts,
            text=messages.approval_needed(tool),
            blocks=render.approval_blocks(approval_id, tool, arguments, caller.user, digest))
        try:
            return await self._wait(approval_id, tool, future)
        except TimeoutError:
            decision = Decision(False, None, messages.approval_expired(tool, self.timeout))
            if not await self.store.decide(approval_id, ApprovalStatus.EXPIRED, None,
                                           decision.text):  # decided at the last moment
                return await self._decided_elsewhere(approval_id, tool) or decision
            await self._close(posted, messages.approval_expired_card(tool))
            return decision
        except asyncio.CancelledError:  # the run was stopped, or the bot is shutting down
            await asyncio.shield(self._expire(approval_id, tool, posted))
            raise
        finally:
            self._waiting.pop(approval_id, None)

    async def _expire(self, approval_id: str, tool: str, posted: Any) -> None:
        """The run ended while its request waited: the request is closed with it."""
        try:
            if await self.store.decide(approval_id, ApprovalStatus.EXPIRED, None,
                                       messages.approval_run_ended(tool)):
                await self._close(posted, messages.approval_run_ended_card(tool))
        except Exception:
            log.warning("could not close the approval request of %s", tool, exc_info=True)

    async def _attach_if_long(self, tool: str, arguments: str, digest: str,
                              caller: Caller) -> bool:
        """Arguments too long for the card go whole into the thread as a file, before the
        card asks anyone; False when that failed (then nobody is asked to approve what
        they cannot read)."""
        if len(arguments) <= render.APPROVAL_ARGUMENTS_SHOWN:
            return True
        try:
            await self.ctx.client.files_upload_v2(
                channel=caller.channel or "", thread_ts=caller.thread_ts, content=arguments,
                filename=f"{tool}-arguments.json", title=f"Arguments of {tool}",
                initial_comment=messages.approval_arguments_file(tool, digest))
        except Exception:
            log.warning("could not attach the arguments of %s for its approval", tool,
                        exc_info=True)
            return False
        return True

    async def _wait(self, approval_id: str, tool: str,
                    future: asyncio.Future[Decision]) -> Decision:
        """The click usually lands here (the future); with several replicas it may land on
        another one, which only updates the row: so the row is read again when the
        database says a decision was taken (NOTIFY), and every POLL_SECONDS anyway."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        seen = self.feed.heard[APPROVALS] if self.feed else 0
        while not future.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            heard: asyncio.Future[int] = asyncio.ensure_future(
                self._heard(seen, min(POLL_SECONDS, remaining)))
            try:
                either: set[asyncio.Future[Any]] = {future, heard}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                heard.cancel()
            if future.done():
                break
            seen = heard.result()
            decided = await self._decided_elsewhere(approval_id, tool)
            if decided is not None:
                return decided
        return future.result()

    async def _heard(self, seen: int, seconds: float) -> int:
        if self.feed is None:
            await asyncio.sleep(seconds)
            return seen
        return await self.feed.wait(APPROVALS, seconds, seen)

    async def _decided_elsewhere(self, approval_id: str, tool: str) -> Decision | None:
        row = await self.store.get(approval_id)
        if row is None or row.status not in (ApprovalStatus.APPROVED, ApprovalStatus.DENIED):
            return None
        who = f"<@{row.decided_by}>"
        approved = row.status == ApprovalStatus.APPROVED
        return Decision(approved, row.decided_by, messages.approval_approved(tool, who)
                        if approved else messages.approval_denied(tool, who))

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
        if approval_id not in self._waiting and not await self._still_running(row.run_id):
            await self.store.decide(approval_id, ApprovalStatus.EXPIRED, None,
                                    messages.approval_run_ended(row.tool))
            await respond(text=messages.approval_run_ended_card(row.tool),
                          replace_original=True)
            return
        who = f"<@{user}>"
        decision = Decision(approve, user, messages.approval_approved(row.tool, who) if approve
                            else messages.approval_denied(row.tool, who))
        if not await self.store.decide(approval_id, ApprovalStatus.APPROVED if approve
                                       else ApprovalStatus.DENIED, user, decision.text):
            await respond(text=messages.APPROVAL_NOT_PENDING,
                          response_type="ephemeral", replace_original=False)
            return
        await respond(text=messages.approval_decided_card(row.tool, who, approved=approve),
                      replace_original=True)
        future = self._waiting.get(approval_id)
        if future is not None and not future.done():
            future.set_result(decision)

    async def _still_running(self, run_id: str) -> bool:
        """Whether the run that asked still runs on some replica (without a way to know,
        as in the console, it is taken to)."""
        return True if self.run_alive is None else await self.run_alive(run_id)

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
