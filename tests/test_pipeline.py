"""The pipeline in one process: signed slash commands through Bolt, real HTTP to the fakes, fake clock."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.domain import JobState
from tests.conftest import CHANNEL, USER
from tests.fakes.perf import Scripted


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_command_ends_with_the_video_in_the_jobs_thread(make_bot: Any) -> None:
    bot = await make_bot()
    response = await bot.command("A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16")
    assert response.status == 200

    await bot.run_jobs()

    [root] = bot.slack.roots(CHANNEL)
    text = root.all_text()
    assert f"<@{USER}>" in text and "A lighthouse in a storm" in text
    assert "veo-3 · 8 s · 1080p · 9:16 · est. $2.80" in text
    assert "✅ Done" in text

    [created] = bot.perf.creates
    assert created == {
        "prompt": "A lighthouse in a storm",
        "model": "veo-3",
        "duration_seconds": 8,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
    }
    perf_job_id = next(iter(bot.perf.jobs))
    [video] = bot.slack.files_in_thread(CHANNEL, root.ts)
    assert video.sha256 == sha(bot.perf.video_for(perf_job_id))
    assert video.filename == "a-lighthouse-in-a-storm.mp4"

    # One progress message in the thread, edited in place, ending in its final state.
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert progress.edits >= 3
    assert "✅ Done" in progress.text

    job = await bot.only_job()
    assert job.state == JobState.DELIVERED and job.finalized and job.next_poll_at is None
    assert job.perf_cost_micros == 400_000


async def test_the_video_is_streamed_with_its_length_and_the_key_stays_with_perf(make_bot: Any) -> None:
    bot = await make_bot()
    bot.perf.video_size = 3_000_000
    await bot.command("A drone shot over a glacier")
    await bot.run_jobs()

    [root] = bot.slack.roots(CHANNEL)
    [video] = bot.slack.files_in_thread(CHANNEL, root.ts)
    assert video.received == video.announced_length == 3_000_000
    assert not video.chunked, "the upload must carry Content-Length, as Slack's upload URL expects"
    assert bot.perf.media_requests, "the video was fetched from the media host"
    assert all("Authorization" not in headers for headers in bot.perf.media_requests)


async def test_a_media_host_without_content_length_is_spooled_not_refused(make_bot: Any) -> None:
    bot = await make_bot()
    bot.perf.media_content_length = False
    await bot.command("A quiet harbour at dawn")
    await bot.run_jobs()

    [root] = bot.slack.roots(CHANNEL)
    [video] = bot.slack.files_in_thread(CHANNEL, root.ts)
    assert video.sha256 == sha(bot.perf.video_for(next(iter(bot.perf.jobs))))
