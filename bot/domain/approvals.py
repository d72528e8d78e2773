"""Approval for expensive jobs: which jobs wait for one, who may decide, and until when. Pure rules."""

from __future__ import annotations

from bot.domain.job import Job
from bot.domain.settings import Settings

HOUR_SECONDS = 3600.0


def needs_approval(estimated_cost_micros: int, limit_micros: int) -> bool:
    """A job waits for an approver when its estimate is above the workspace's limit (VIDEOBOT_APPROVAL_OVER_USD,
    0: never)."""
    return 0 < limit_micros < estimated_cost_micros


def approval_due_at(job: Job, settings: Settings) -> float:
    """When an undecided request expires: VIDEOBOT_APPROVAL_HOURS after the job was stored."""
    return job.created_at + settings.approval_hours * HOUR_SECONDS


def is_approver(user_id: str, *, runs_the_workspace: bool, settings: Settings) -> bool:
    """Workspace admins and owners, and the people named in VIDEOBOT_APPROVERS."""
    return runs_the_workspace or user_id in settings.approvers


def may_decide(job: Job, user_id: str, *, runs_the_workspace: bool, settings: Settings) -> bool:
    """An approver may decide any job but their own; their own too unless VIDEOBOT_APPROVE_OWN=0 (which
    wants a second pair of eyes on it: their own jobs then wait for another approver)."""
    if not is_approver(user_id, runs_the_workspace=runs_the_workspace, settings=settings):
        return False
    return user_id != job.user_id or settings.approve_own


def asked_directly(job: Job, settings: Settings) -> tuple[str, ...]:
    """The approvers sent the request by direct message when there is no approval channel: the listed
    ones, never the requester (whose own job is either theirs to run or someone else's to decide)."""
    if settings.approval_channel:
        return ()
    return tuple(user for user in settings.approvers if user != job.user_id)
