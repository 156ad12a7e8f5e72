"""Approval requests and decisions, shared by every replica through their rows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store import Database
from bot.store.models import ApprovalRow
from bot.store.repositories import ApprovalRepository, AuditRepository


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


AUDIT_ACTION = {ApprovalStatus.APPROVED: "approve", ApprovalStatus.DENIED: "deny",
                ApprovalStatus.EXPIRED: "expire"}


@dataclass(frozen=True)
class Approval:
    id: str
    tool: str
    status: ApprovalStatus
    decided_by: str | None
    run_id: str = ""  # the run that asked


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    run_id: str
    tool: str
    arguments: str
    arguments_sha256: str  # what an approval is bound to (registry.arguments_digest)
    requested_by: str | None
    channel: str | None
    thread_ts: str | None


class ApprovalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(self, request: ApprovalRequest) -> None:
        """Store a pending approval and audit the request, in one transaction."""
        async with self.db.write() as session:
            ApprovalRepository(session).add(ApprovalRow(
                id=request.id, run_id=request.run_id, tool=request.tool,
                arguments=request.arguments, arguments_sha256=request.arguments_sha256,
                requested_by=request.requested_by, channel=request.channel,
                thread_ts=request.thread_ts, status=ApprovalStatus.PENDING))
            AuditRepository(session).record(
                actor=request.requested_by or "agent", action="request", target=request.tool,
                outcome="pending", detail=f"approval {request.id} run {request.run_id} "
                f"arguments {request.arguments_sha256[:12]}")

    async def get(self, approval_id: str) -> Approval | None:
        async with self.db.read() as session:
            row = await ApprovalRepository(session).get(approval_id)
        if row is None:
            return None
        return Approval(row.id, row.tool, ApprovalStatus(row.status), row.decided_by,
                        row.run_id)

    async def decide(self, approval_id: str, status: ApprovalStatus, user: str | None,
                     detail: str) -> bool:
        """Record a decision (or an expiry) and audit it, in one transaction; False when
        the approval was no longer pending (decided a moment before, perhaps on another
        replica): one atomic update, so two clicks cannot both win."""
        async with self.db.write() as session:
            tool = await ApprovalRepository(session).decide(
                approval_id, ApprovalStatus.PENDING, status, user)
            if tool is None:
                return False
            AuditRepository(session).record(
                actor=user or "system", action=AUDIT_ACTION[status], target=tool,
                outcome="ok", detail=detail)
        return True
