"""How often a job is looked at and how long the bot keeps trying: pure numbers and functions.

Progress between polls is shown from Perf's own estimate, so a long job costs a poll to learn its
estimate and one to find it done, not one every few seconds.
"""

from __future__ import annotations

from bot.clients.perf import JobStatus
from bot.domain.settings import Settings

MAX_DELIVERY_ATTEMPTS = 6
MAX_FINALIZE_ATTEMPTS = 5
# A step that keeps crashing (a bug, a broken disk) ends the job with a message rather than looping.
MAX_CONSECUTIVE_FAILURES = 12
MAX_BACKOFF_SECONDS = 120.0
# How many places at the front of the line get their thread edited when they move up: each move
# costs one chat.update per job, and Slack allows about one a second per channel.
QUEUE_POSITIONS_SHOWN = 25
# Waiting in line is normal (a Free plan runs one job at a time), so it has its own, longer deadline.
MAX_QUEUE_WAIT_SECONDS = 24 * 3600.0
ETA_MARGIN_SECONDS = 0.25
PROGRESS_EDIT_MIN_GAP_SECONDS = 3.0
FINISHING_POLL_SECONDS = 0.5
# Trusting an estimate has a limit: a job that fails at Perf is noticed within this long.
MAX_POLL_GAP_SECONDS = 60.0
# One call of advance() runs at most this many steps back to back; the rest waits for the next tick.
MAX_STEPS_PER_CALL = 8


def next_poll_delay(status: JobStatus, min_seconds: float, refresh_seconds: float) -> float:
    """Poll just after Perf expects to be done; without an estimate, twice per progress refresh."""
    if status.status == "processing" and status.eta_seconds == 0:
        # About to finish: look again shortly, even below the minimum gap, so the video is not left waiting.
        return FINISHING_POLL_SECONDS
    if status.eta_seconds is not None and status.eta_seconds > 0:
        # Perf rounds its estimate to whole seconds; a little after it the job is usually done.
        wanted = status.eta_seconds + ETA_MARGIN_SECONDS
    else:
        wanted = refresh_seconds / 2
    return max(min_seconds, min(MAX_POLL_GAP_SECONDS, wanted))


def estimated_progress(percent: int | None, eta_seconds: int | None, elapsed: float) -> tuple[int, int] | None:
    """Where a job should be `elapsed` seconds after Perf said `percent` with `eta_seconds` left."""
    if percent is None or eta_seconds is None or eta_seconds <= 0:
        return None
    done = min(1.0, elapsed / eta_seconds)
    return min(99, round(percent + (100 - percent) * done)), max(0, round(eta_seconds - elapsed))


def backoff_delay(failures: int, min_seconds: float, retry_after: float | None = None) -> float:
    if retry_after is not None:
        return max(min_seconds, retry_after)
    return min(MAX_BACKOFF_SECONDS, min_seconds * 2.0 ** max(0, failures - 1))


def refresh_seconds(settings: Settings) -> float:
    """How often a running job's progress message moves along the estimate.

    A due job waits up to one poller tick, and the edit itself takes a moment: aim early enough that the
    progress message never goes longer than VIDEOBOT_POLL_MAX_SECONDS without an update.
    """
    max_gap = settings.poll_max_seconds
    return max(max_gap / 2, max_gap - settings.poll_tick_seconds - 0.5)
