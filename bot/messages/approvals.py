"""Sentences about approvals: the card an admin decides on, and what the model and the
thread are told of the decision. Re-exported by `bot.messages`; import them from there."""

from __future__ import annotations

__all__ = [
    "APPROVAL_ADMINS_ONLY",
    "APPROVAL_NOT_PENDING",
    "approval_approved",
    "approval_arguments_changed",
    "approval_arguments_file",
    "approval_arguments_unshown",
    "approval_decided_card",
    "approval_denied",
    "approval_expired",
    "approval_expired_card",
    "approval_long_arguments",
    "approval_needed",
    "approval_run_ended",
    "approval_run_ended_card",
    "approval_unavailable",
]

APPROVAL_NOT_PENDING = "This approval is no longer pending."
APPROVAL_ADMINS_ONLY = "Only admins can approve or deny tool calls."


def approval_unavailable(tool: str) -> str:
    return (f"'{tool}' needs an admin's approval and nobody can be asked here; it was not "
            "run.")


def approval_denied(tool: str, by: str) -> str:
    return f"An admin ({by}) denied running '{tool}'; it was not run."


def approval_expired(tool: str, seconds: float) -> str:
    return f"No admin approved '{tool}' within {seconds:g} s; it was not run."


def approval_approved(tool: str, by: str) -> str:
    return f"Approved by {by}."


def approval_arguments_changed(tool: str) -> str:
    return (f"'{tool}' was not run: its arguments are not the ones an admin approved. Ask "
            "for an approval of these arguments.")


def approval_long_arguments(shown: int, total: int) -> str:
    return (f"…\n(the first {shown:,} of {total:,} characters: the whole arguments are "
            "attached in this thread)")


def approval_arguments_unshown(tool: str) -> str:
    return (f"'{tool}' was not run: its arguments are too long for the approval card and "
            "could not be attached to the thread, so nobody could see what they would "
            "approve. Try again, or with shorter arguments.")


def approval_arguments_file(tool: str, digest: str) -> str:
    return f"The whole arguments of `{tool}` awaiting approval (fingerprint `{digest[:12]}`)."


def approval_needed(tool: str) -> str:
    return f"Approval needed to run {tool}"


def approval_expired_card(tool: str) -> str:
    return f":hourglass: Expired: `{tool}` was not run."


def approval_run_ended(tool: str) -> str:
    return f"The run that asked to call '{tool}' ended first; it was not run."


def approval_run_ended_card(tool: str) -> str:
    return (f":hourglass: Expired: the run ended, so `{tool}` was not run. Ask again if it "
            "is still needed.")


def approval_decided_card(tool: str, who: str, *, approved: bool) -> str:
    mark = ":white_check_mark: Approved" if approved else ":no_entry: Denied"
    return f"{mark} by {who}: `{tool}`"
