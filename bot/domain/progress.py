"""What a job's progress message shows, as values: the job thread is edited when they change.

Deciding "did anything change" from the job's own state rather than from rendered text keeps the rule
in one place and lets the job machine skip an edit without building the message. The rounding of the
time left lives here too, because it decides both what the message says and when it says something new.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.job import Job, JobState


@dataclass(frozen=True)
class TimeLeft:
    amount: int
    unit: str  # "s" under a minute, else "min"


def time_left(seconds: int) -> TimeLeft:
    if seconds < 60:
        return TimeLeft(max(1, seconds), "s")
    return TimeLeft(round(seconds / 60), "min")


@dataclass(frozen=True)
class ProgressShown:
    """The parts of a job that its progress message shows while the job runs."""

    state: JobState
    place_in_line: int | None = None
    perf_job_id: str | None = None
    percent: int | None = None
    left: TimeLeft | None = None


def progress_shown(job: Job) -> ProgressShown:
    match job.state:
        case JobState.QUEUED:
            return ProgressShown(job.state, place_in_line=job.queue_position or 1)
        case JobState.PENDING:
            return ProgressShown(job.state, perf_job_id=job.perf_job_id)
        case JobState.PROCESSING:
            left = time_left(job.eta_seconds) if job.eta_seconds is not None and job.eta_seconds > 0 else None
            return ProgressShown(job.state, percent=job.progress_percent or 0, left=left)
        case _:
            # The other states show one fixed text each while running; a finished job's final edit shows it all.
            return ProgressShown(job.state)
