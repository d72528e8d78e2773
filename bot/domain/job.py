"""A job and its states: the jobs table holds one `Job` per `/video` request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TypedDict


class JobState(StrEnum):
    ACCEPTED = "accepted"  # stored; root message and submission still to do
    # Its estimate is over VIDEOBOT_APPROVAL_OVER_USD: it holds its quota place and waits for an approver,
    # outside the account's line. Approved, it becomes ACCEPTED; denied or expired, FAILED.
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"  # waiting for one of the account's concurrent slots at Perf
    SUBMITTING = "submitting"  # the create request may be on the wire
    PENDING = "pending"  # Perf accepted it and queued it
    PROCESSING = "processing"
    COMPLETE = "complete"  # Perf finished; delivery into the thread still to do
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the create may or may not have reached Perf: never resubmitted blindly
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.UNKNOWN, JobState.CANCELLED})
AT_PERF_STATES = frozenset({JobState.PENDING, JobState.PROCESSING})
# The states that take one of the account's concurrent slots at Perf.
IN_FLIGHT_STATES = frozenset({JobState.SUBMITTING, JobState.PENDING, JobState.PROCESSING})
# The account's line: stored, not yet sent to Perf; a job leaves it for SUBMITTING when it gets a slot.
WAITING_STATES = frozenset({JobState.ACCEPTED, JobState.QUEUED})
# The ends that, for a job Perf never gave an id, mean it certainly never reached Perf: it holds no quota.
QUOTA_FREED_STATES = frozenset({JobState.FAILED, JobState.CANCELLED})

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_ID_LENGTH = 10
# The first characters name the hour the job arrived in (hours since 1970, modulo 31^3: they come round
# again after 3.4 years), the rest are random. The ids of one hour are then neighbours in every index keyed
# by job id (the jobs' own, job_events' by job): a burst's admissions and its jobs' steps touch a few pages
# of those indexes instead of one page a job anywhere in a year of history (bench/write_path.py).
_ID_HOUR_CHARACTERS = 3
ID_HOUR_SECONDS = 3600


def _base31(number: int, length: int) -> str:
    characters = []
    for _ in range(length):
        number, digit = divmod(number, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[digit])
    return "".join(characters)


def new_job_id(now: float) -> str:
    """A new job's id: `vb_`, the hour of `now`, then 7 random characters (27.5 billion an hour).

    Ids of the same hour may still collide, rarely; admission draws again when one is taken."""
    random_characters = _ID_LENGTH - _ID_HOUR_CHARACTERS
    hour = int(now // ID_HOUR_SECONDS) % len(_ID_ALPHABET) ** _ID_HOUR_CHARACTERS
    # One draw from the system's randomness, written in base 31: a choice per character made ten reads
    # of /dev/urandom, a third of the handler's time on every /video command.
    number = secrets.randbelow(len(_ID_ALPHABET) ** random_characters)
    return "vb_" + _base31(hour, _ID_HOUR_CHARACTERS) + _base31(number, random_characters)


@dataclass
class Job:
    id: str
    team_id: str
    channel_id: str
    user_id: str
    prompt: str
    model: str
    duration_seconds: Decimal
    resolution: str
    aspect_ratio: str
    estimated_cost_micros: int
    state: JobState
    created_at: float
    updated_at: float
    response_url: str = ""
    next_poll_at: float | None = None
    root_ts: str | None = None
    progress_ts: str | None = None
    perf_job_id: str | None = None
    submitted_at: float | None = None
    progress_percent: int | None = None
    eta_seconds: int | None = None
    poll_failures: int = 0
    video_url: str | None = None
    perf_cost_micros: int | None = None
    generation_ms: int | None = None
    completed_at: float | None = None
    upload_file_id: str | None = None
    upload_sent: bool = False
    file_shared: bool = False
    delivered_as_link: bool = False
    delivery_note: str | None = None
    delivered_at: float | None = None
    error_message: str | None = None
    finalized: bool = False
    rerun_of: str | None = None  # the job whose prompt this one runs again
    rerun_link: str | None = None  # permalink to that job's root message, "" when Slack gave none
    queue_position: int | None = None  # the place in line last shown in the thread
    progress_at: float | None = None  # when progress_percent and eta_seconds were last estimated
    perf_poll_due: float | None = None  # when Perf is next asked; progress is refreshed in between
    private: bool = False  # posted in a direct message to the requester; counts against channel_id's quota
    post_channel_id: str | None = None  # where its messages go when that is not channel_id (the DM)
    arrival: int | None = None  # its number in the account's line, given when it is stored
    lease_owner: str | None = None  # the replica advancing it right now
    lease_until: float | None = None  # when that replica's hold lapses unless renewed
    thread_ts: str | None = None  # the thread its root goes in: started from a message in a thread
    step_execution_id: str | None = None  # the Workflow Builder step waiting for this job, if one started it
    # That step's own token: a secret, so never in a repr or a log line; dropped once the step is ended.
    step_token: str | None = field(default=None, repr=False)
    step_done: bool = False  # the step was told how the job ended
    spend_day: float | None = None  # the start of the day (VIDEOBOT_TIMEZONE) its cost counts in: budgets
    # Approval for expensive jobs: the decision (a `Decision` value) once made, who made it ("" for an
    # expiry), when, the denial's reason, and whether the approvers' copies of the request still show
    # its buttons (edited on the job's next step, then forgotten).
    approval: str | None = None
    approval_by: str | None = None
    approval_at: float | None = None
    approval_note: str | None = None
    approval_edits_due: bool = False

    style: str | None = None  # the style suffix at the end of `prompt` (a default or `--style`), shown apart
    # A draft: the settings its full version runs with, as options (bot.domain.drafts); None otherwise.
    full_settings: str | None = None
    full_of_draft: bool = False  # this job is the full version of its `rerun_of`, a draft

    remix: bool = False  # started from the Remix form: rerun_of is the job it remixes, its settings changed
    # One take of a comparison (`--models`): every take's job id and model, "vb_…:pika,vb_…:veo-3" in the
    # order asked, this one's included; and what the whole comparison was estimated to cost.
    comparison: str | None = None
    comparison_cost_micros: int | None = None
    # The languages it started with (issue 26): its messages' (the channel's, or the requester's for a private
    # job) and its requester's, so that its later edits and notes never switch language halfway.
    language: str | None = None
    person_language: str | None = None
    # The account line it waits in (issue 25): Perf's limits are per key, so each key has its own line and
    # slots. "" is the operator's PERF_API_KEY (shared by every workspace without a key of its own); a team
    # id is that workspace's own key. Set at admission from the key that will pay (bot.domain.perf_keys).
    line: str = ""
    # Its workspace's Enterprise Grid org ("" outside Grid), as the request that made it named it (issue 25):
    # what later work needs to find an org-wide install's token.
    enterprise_id: str = ""

    @property
    def compared(self) -> list[tuple[str, str]]:
        """The takes of this job's comparison, (job id, model) each, in the order asked; [] for a lone job."""
        if not self.comparison:
            return []
        return [(take.partition(":")[0], take.partition(":")[2]) for take in self.comparison.split(",")]

    @property
    def line_since(self) -> float:
        """When the job joined the account's line: its approval, if it waited for one, else its creation.

        The line's own time limits count from here, so a job approved after hours is not given up at once."""
        if self.approval == Decision.APPROVED and self.approval_at is not None:
            return self.approval_at
        return self.created_at

    @property
    def where(self) -> str:
        """The conversation the job's messages are in."""
        return self.post_channel_id or self.channel_id

    @property
    def replies_under(self) -> str | None:
        """The message its progress message and video go under: its root, or the thread its root is in
        (Slack threads are one level deep)."""
        return self.thread_ts or self.root_ts

    @property
    def holds_quota(self) -> bool:
        """A job counts against quotas unless it certainly never reached Perf."""
        return self.perf_job_id is not None or self.state not in QUOTA_FREED_STATES

    @property
    def cost_micros(self) -> int:
        """Perf's charged cost once known, the estimate until then."""
        return self.perf_cost_micros if self.perf_cost_micros is not None else self.estimated_cost_micros


class Decision(StrEnum):
    """How a job that waited for approval left the wait (`Job.approval`)."""

    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # nobody decided within VIDEOBOT_APPROVAL_HOURS
    WITHDRAWN = "withdrawn"  # cancelled by its requester (or an admin) while it waited


class CancelOutcome(StrEnum):
    """What `/video cancel` or the Cancel button found."""

    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    ALREADY_ENDED = "already_ended"
    UNCHECKED = "unchecked"  # Slack could not say whether the person is an admin


class JobChanges(TypedDict, total=False):
    """Columns of a stored job to write, by name: a misspelt column is a type error. Every column but
    the id, which never changes."""

    team_id: str
    channel_id: str
    user_id: str
    prompt: str
    model: str
    duration_seconds: Decimal
    resolution: str
    aspect_ratio: str
    estimated_cost_micros: int
    state: JobState
    created_at: float
    updated_at: float
    response_url: str
    next_poll_at: float | None
    root_ts: str | None
    progress_ts: str | None
    perf_job_id: str | None
    submitted_at: float | None
    progress_percent: int | None
    eta_seconds: int | None
    poll_failures: int
    video_url: str | None
    perf_cost_micros: int | None
    generation_ms: int | None
    completed_at: float | None
    upload_file_id: str | None
    upload_sent: bool
    file_shared: bool
    delivered_as_link: bool
    delivery_note: str | None
    delivered_at: float | None
    error_message: str | None
    finalized: bool
    rerun_of: str | None
    rerun_link: str | None
    queue_position: int | None
    progress_at: float | None
    perf_poll_due: float | None
    private: bool
    post_channel_id: str | None
    arrival: int | None
    lease_owner: str | None
    lease_until: float | None
    thread_ts: str | None
    step_execution_id: str | None
    step_token: str | None
    step_done: bool
    approval: str | None
    approval_by: str | None
    approval_at: float | None
    approval_note: str | None
    approval_edits_due: bool
    style: str | None
    full_settings: str | None
    full_of_draft: bool
    remix: bool
    comparison: str | None
    comparison_cost_micros: int | None
    language: str | None
    person_language: str | None
