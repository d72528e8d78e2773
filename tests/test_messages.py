"""What videobot writes in Slack: costs, progress, escaping, file names; and how it paces polls."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from bot import messages
from bot.clients.perf import JobStatus
from bot.domain import catalogue
from bot.domain.job import Job, JobState
from bot.jobs.policy import backoff_delay, estimated_progress, next_poll_delay
from bot.messages import escape, progress_bar, progress_message, root_message, upload_title, usd, video_filename
from bot.runtime.logs import RedactSecrets


def job(**changes: Any) -> Job:
    values: dict[str, Any] = {
        "id": "vb_test",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "prompt": "A lighthouse in a storm, waves crashing!",
        "model": "veo-3",
        "duration_seconds": Decimal(8),
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "estimated_cost_micros": catalogue.estimated_cost_micros("veo-3", Decimal(8)),
        "state": JobState.ACCEPTED,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    values.update(changes)
    return Job(**values)


@pytest.mark.parametrize(
    ("model", "seconds", "shown"),
    [
        ("veo-3", "8", "$2.80"),
        ("runway-gen3", "8", "$0.80"),
        ("pika", "4", "$0.27"),
        ("luma-dream-machine", "2.5", "$0.15"),
    ],
)
def test_estimated_cost_is_duration_times_price_in_cents(model: str, seconds: str, shown: str) -> None:
    assert usd(catalogue.estimated_cost_micros(model, Decimal(seconds))) == shown


def test_the_root_message_shows_who_what_settings_cost_and_job_id() -> None:
    text = root_message(job())["text"] + str(root_message(job())["blocks"])
    assert "<@U1>" in text and "A lighthouse in a storm, waves crashing!" in text
    assert "veo-3 · 8 s · 1080p · 9:16 · est. $2.80 · job vb_test" in text


def test_final_root_message_shows_cost_and_time_taken() -> None:
    done = job(state=JobState.DELIVERED, submitted_at=100.0, completed_at=147.0, perf_cost_micros=2_750_000)
    assert "✅ Done in 47 s · $2.75 · video in the thread" in root_message(done)["text"]


def test_progress_is_a_bar_with_percent_and_time_left() -> None:
    running = job(state=JobState.PROCESSING, progress_percent=62, eta_seconds=20)
    assert progress_message(running)["text"] == "▓▓▓▓▓▓░░░░ 62% · about 20 s left"
    assert progress_bar(0) == "░" * 10 and progress_bar(100) == "▓" * 10


def test_escape_neutralises_slack_markup() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_errors_from_perf_are_escaped_too() -> None:
    failed = job(state=JobState.FAILED, error_message="bad <!here> prompt")
    assert "<!here>" not in progress_message(failed)["text"]
    assert "&lt;!here&gt;" in progress_message(failed)["text"]


def test_video_filename_comes_from_the_prompt() -> None:
    assert video_filename(job()) == "a-lighthouse-in-a-storm-waves.mp4"
    assert video_filename(job(prompt="🎉🎉")) == "video.mp4"


def test_polls_follow_the_estimate_within_bounds() -> None:
    # Just after the estimate (Perf rounds it), never sooner than the minimum, never later than a minute.
    assert next_poll_delay(JobStatus("processing", eta_seconds=30), 2, 15) == 30.25
    assert next_poll_delay(JobStatus("processing", eta_seconds=6), 2, 15) == 6.25
    assert next_poll_delay(JobStatus("processing", eta_seconds=1), 2, 15) == 2
    # About to finish: a quick look, even below the minimum gap.
    assert next_poll_delay(JobStatus("processing", eta_seconds=0), 2, 15) == 0.5
    assert next_poll_delay(JobStatus("processing", eta_seconds=900), 2, 15) == 60
    assert next_poll_delay(JobStatus("pending"), 2, 15) == 7.5


def test_progress_between_polls_follows_the_estimate() -> None:
    assert estimated_progress(20, 40, 10) == (40, 30)
    assert estimated_progress(20, 40, 60) == (99, 0)  # never claims done before Perf says so
    assert estimated_progress(None, 40, 10) is None and estimated_progress(50, None, 10) is None


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    assert [backoff_delay(n, 2) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff_delay(30, 2) == 120
    assert backoff_delay(3, 2, retry_after=45) == 45


def test_secrets_are_redacted_from_log_lines() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s ok", ("xoxb-secret-123",), None)
    assert RedactSecrets(("xoxb-secret-123",)).filter(record)
    assert record.getMessage() == "token=[redacted] ok"


def test_the_uploaded_file_is_titled_with_length_cost_and_time_taken() -> None:
    done = job(state=JobState.COMPLETE, submitted_at=100.0, completed_at=147.0, perf_cost_micros=2_800_000)
    assert upload_title(done) == "8 s · 1080p · $2.80 · made in 47 s"


def test_help_tells_how_to_get_another_take_with_the_configured_emoji() -> None:
    assert "react with 🔁 on the job's message, or press *Run again*" in messages.help_message()["text"]
    assert "react with :partyparrot: on the job's message" in messages.help_message(rerun_emoji="partyparrot")["text"]


def test_help_says_report_month_details_channels_and_people_for_admins_and_approvers_only() -> None:
    # Since issue 29 a member's month report has the models and their own spend, not everyone's.
    text = messages.help_message()["text"]
    assert "`/video report month` the month by model and your own spend" in text
    assert "(by channel and person too for admins and approvers)" in text


def test_the_help_syntax_line_lists_every_option_the_parser_takes() -> None:
    from bot.domain.request import OPTION_NAMES

    syntax = messages.help_message()["text"].splitlines()[0]
    # `--ar` is the one short spelling the line itself explains, further on.
    missing = [name for name in OPTION_NAMES if name != "ar" and f"[--{name}" not in syntax]
    assert missing == [], syntax
