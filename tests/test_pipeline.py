"""The pipeline in one process: signed slash commands through Bolt, real HTTP to the fakes, fake clock."""

from __future__ import annotations

import asyncio
import hashlib

from bot.clients.perf import JobStatus
from bot.domain.job import JobState
from bot.domain.request import VideoRequest
from bot.jobs.policy import MAX_DELIVERY_ATTEMPTS
from tests.conftest import CHANNEL, USER, MakeBot
from tests.fakes.jobs import stored_job
from tests.fakes.perf import Scripted
from tests.fakes.process import wait_for


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_command_ends_with_the_video_in_the_jobs_thread(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.command("A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16")
    assert response.status == 200

    await bot.run_jobs(each_state_shown=True)  # the thread shows each state in turn

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

    # The job's history, in order, is kept beside it.
    states = [state for _, state, _ in await bot.services.store.job_events(job.id)]
    assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]] == [
        "accepted",
        "submitting",
        "pending",
        "processing",
        "complete",
        "delivered",
    ]


async def test_the_video_is_streamed_with_its_length_and_the_key_stays_with_perf(make_bot: MakeBot) -> None:
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


async def test_a_media_host_without_content_length_is_spooled_not_refused(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.media_content_length = False
    await bot.command("A quiet harbour at dawn")
    await bot.run_jobs()

    [root] = bot.slack.roots(CHANNEL)
    [video] = bot.slack.files_in_thread(CHANNEL, root.ts)
    assert video.sha256 == sha(bot.perf.video_for(next(iter(bot.perf.jobs))))


async def test_bad_input_is_answered_privately_and_creates_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot()
    cases = {
        "A glacier --model veo-4": "There is no model `veo-4`. Did you mean `veo-3`?",
        "A drone shot over a glacier --model veo-3 --duration 61": "veo-3 makes videos of up to 60 s",
        "A cat --durration 4": "Did you mean `--duration`?",
        "--model veo-3": "Tell me what to film",
        "A cat --aspect 2:1": "There is no aspect ratio `2:1`",
        "A cat --resolution 4k": "There is no resolution `4k`",
    }
    for text, expected in cases.items():
        response = await bot.command(text)
        assert response.status == 200
        assert expected in response.body, (text, response.body)
        assert '"response_type":"ephemeral"' in response.body.replace(" ", "")
    await bot.run_jobs()
    assert await bot.services.store.jobs() == []
    assert bot.perf.creates == []
    assert bot.slack.messages == []


async def test_help_explains_syntax_models_and_aspect_ratios(make_bot: MakeBot) -> None:
    bot = await make_bot()
    for text in ("help", "?"):
        response = await bot.command(text)
        assert "/video <prompt>" in response.body
        assert "`veo-3` (Google): up to 60 s, $0.35 per second" in response.body
        assert "`9:16` vertical (TikTok, Reels)" in response.body
        assert "camera movement" in response.body
    assert bot.slack.messages == [] and bot.perf.creates == []


async def test_mentions_in_a_prompt_are_shown_as_text_and_never_ping(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("<!channel> <!here> <@U999> & friends dancing")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    text = root.all_text()
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U999&gt; &amp; friends dancing" in text
    assert "<!channel>" not in text and "<!here>" not in text and "<@U999>" not in text
    assert all(block.get("text", {}).get("verbatim", True) for block in root.blocks if block["type"] == "section")
    # Perf gets the prompt exactly as typed.
    assert bot.perf.creates[0]["prompt"] == "<!channel> <!here> <@U999> & friends dancing"


async def test_a_failed_generation_shows_perfs_reason_in_the_thread_and_the_root(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.outcome = "failed"
    await bot.command("Something the policy refuses")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "❌ Failed: Content policy violation" in root.all_text()
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert "Content policy violation: the prompt was refused" in progress.text
    assert bot.slack.files == {}
    assert (await bot.only_job()).state == JobState.FAILED


async def test_perf_rate_limit_on_create_waits_and_submits_once(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.create_script = [
        Scripted(429, {"error": {"type": "rate_limited", "message": "busy"}}, {"Retry-After": "30"})
    ]
    await bot.command("A lighthouse")
    await bot.step()
    job = await bot.only_job()
    assert job.state == JobState.QUEUED and bot.perf.creates == []
    assert job.next_poll_at == bot.clock.now() + 30, "Retry-After is honoured"

    await bot.run_jobs()
    assert len(bot.perf.creates) == 1
    assert (await bot.only_job()).state == JobState.DELIVERED
    assert len(bot.slack.roots(CHANNEL)) == 1


async def test_a_create_that_may_have_reached_perf_is_never_sent_twice(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.create_script = [Scripted(502, raw="<html>bad gateway</html>")]
    await bot.command("A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.UNKNOWN
    assert bot.perf.creates == [] and len(bot.perf.polls) == 0
    [root] = bot.slack.roots(CHANNEL)
    [note] = bot.slack.thread(CHANNEL, root.ts)
    assert "can't tell whether Perf received it" in note.text and "press *Run again*" in note.text


async def test_a_create_perf_refuses_is_reported_with_perfs_message(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.create_script = [
        Scripted(400, {"error": {"type": "invalid_request", "message": "duration_seconds exceeds maximum of 16"}})
    ]
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "Perf refused the job: duration_seconds exceeds maximum of 16" in root.all_text()


async def test_transient_poll_errors_back_off_and_the_job_goes_on(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.processing_polls = 1
    await bot.command("A lighthouse")
    await bot.step()  # posted and submitted
    bot.perf.poll_script = [
        Scripted(503, {"error": {"type": "unavailable", "message": "down"}}),
        Scripted(200, raw="{not json"),
        Scripted(200, {"id": "x", "status": "exploding"}),
        Scripted(200, {"id": "x", "status": "complete"}),  # complete without video_url
        Scripted(429, {}, {"Retry-After": "20"}),
    ]
    gaps = []
    for _ in range(5):
        job = await bot.only_job()
        assert job.next_poll_at is not None
        gaps.append(job.next_poll_at - bot.clock.now())
        bot.clock.t = job.next_poll_at
        await bot.step()
    job = await bot.only_job()
    assert job.poll_failures == 5 and job.state == JobState.PENDING
    assert job.next_poll_at == bot.clock.now() + 20
    assert gaps[1:] == [2, 4, 8, 16], "errors back off exponentially"
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.DELIVERED


async def test_a_job_perf_forgets_ends_with_a_message(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.step()
    bot.perf.jobs.clear()
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "Perf no longer knows this job" in root.all_text()


async def test_a_job_that_never_finishes_is_given_up_after_the_deadline(make_bot: MakeBot) -> None:
    bot = await make_bot(job_timeout_seconds=600)
    bot.perf.hold()
    await bot.command("A lighthouse")
    await bot.run_jobs(max_rounds=1000)
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized
    assert "did not finish within 10 min" in (job.error_message or "")
    assert len(bot.perf.polls) <= 600 / 2 + 2


async def test_polls_follow_perfs_estimate_within_bounds(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.eta_seconds = 40
    bot.perf.processing_polls = 3
    await bot.command("A lighthouse")
    await bot.step()
    gaps = []
    while (job := await bot.only_job()).state in (JobState.PENDING, JobState.PROCESSING):
        assert job.next_poll_at is not None
        gaps.append(job.next_poll_at - bot.clock.now())
        bot.clock.t = job.next_poll_at
        await bot.step()
    assert gaps[0] == 2  # first poll soon after submitting
    assert max(gaps) <= 15, gaps  # the progress message is refreshed at least every 15 s...
    # ...but Perf is asked only when its estimate runs out: pending, 3 × processing, complete.
    assert len(bot.perf.polls) == 5
    assert len(gaps) > 2 * len(bot.perf.polls)
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    assert progress.edits >= len(gaps) - 2, "each refresh between polls moved the bar"


async def test_no_room_in_the_channel_is_told_privately_and_nothing_is_submitted(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", error="not_in_channel")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert bot.perf.creates == []
    assert bot.slack.messages == []
    [(_, answer)] = bot.slack.responses
    assert "not_in_channel" in answer["text"] and "/invite @videobot" in answer["text"]
    assert answer.get("response_type") == "ephemeral"
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized


async def test_slack_rate_limits_are_retried_by_the_client(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.fail_next("chat.postMessage", status=429, retry_after="0")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    assert len(bot.slack.roots(CHANNEL)) == 1
    assert (await bot.only_job()).state == JobState.DELIVERED


async def test_an_upload_slack_refuses_falls_back_to_the_link(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.slack.fail_next("files.getUploadURLExternal", error="missing_scope")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    [progress] = bot.slack.thread(CHANNEL, root.ts)
    perf_job_id = next(iter(bot.perf.jobs))
    assert f"/videos/{perf_job_id}.mp4" in progress.text and "missing_scope" in progress.text
    assert "link in the thread" in root.all_text()
    assert not any(f.shares for f in bot.slack.files.values())


async def test_a_video_on_a_host_not_allowed_is_neither_fetched_nor_linked(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.video_url_override = "https://evil.example.com/v.mp4"
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    text = root.all_text() + "".join(m.text for m in bot.slack.thread(CHANNEL, root.ts))
    assert "evil.example.com, which is not an allowed media host" in text
    assert "https://evil.example.com/v.mp4" not in text
    assert bot.perf.media_requests == [] and bot.slack.files == {}


async def test_restart_mid_create_marks_the_job_unknown_and_does_not_resubmit(make_bot: MakeBot) -> None:
    bot = await make_bot()
    job = await bot.services.jobs.start(
        VideoRequest("A lighthouse"), team_id="T1", channel_id=CHANNEL, user_id=USER, response_url=""
    )
    # What a kill -9 during the create request leaves behind.
    await bot.services.store.update_job(job, state=JobState.SUBMITTING, root_ts="1700000000.000001")
    restarted = await make_bot()
    await restarted.run_jobs()
    assert bot.perf.creates == []
    assert (await restarted.only_job()).state == JobState.UNKNOWN


async def test_restart_after_the_bytes_reached_slack_only_completes_the_upload(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    bot.slack.fail_next("files.completeUploadExternal", status=500)
    await bot.run_jobs()
    # The failed completion is retried; the bytes are not uploaded again.
    assert bot.slack.call_count("files.getUploadURLExternal") == 1
    assert bot.slack.call_count("files.completeUploadExternal") == 2
    [root] = bot.slack.roots(CHANNEL)
    assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1


async def test_many_commands_at_once_each_get_their_own_thread_and_one_video(make_bot: MakeBot) -> None:
    bot = await make_bot(poll_concurrency=3)
    prompts = [f"Scene number {n} --model luma-dream-machine --duration {n % 10 + 1}" for n in range(12)]
    for text in prompts:
        await bot.command(text, user=f"U{text.split()[2]:0>7}")
    await bot.run_jobs()

    roots = bot.slack.roots(CHANNEL)
    assert len(roots) == 12 and len(bot.perf.creates) == 12
    for root in roots:
        assert "✅ Done" in root.all_text()
        assert len(bot.slack.files_in_thread(CHANNEL, root.ts)) == 1
        assert len(bot.slack.thread(CHANNEL, root.ts)) == 1
    assert sorted(c["duration_seconds"] for c in bot.perf.creates) == sorted(n % 10 + 1 for n in range(12))


async def test_a_refused_api_key_is_explained_to_the_person(make_bot: MakeBot) -> None:
    bot = await make_bot(perf_api_key="pk_test_wrong_key")
    await bot.command("A lighthouse")
    await bot.run_jobs()
    [root] = bot.slack.roots(CHANNEL)
    assert "Perf refused videobot's API key (HTTP 401)" in root.all_text()
    assert "PERF_API_KEY" in root.all_text()
    assert "pk_test_wrong_key" not in root.all_text()


async def test_a_step_that_keeps_crashing_ends_the_job_with_a_message(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.step()  # submitted; from now on every poll answer is something the code cannot digest

    async def broken_status(perf_job_id: str, *, api_key: str | None = None) -> JobStatus:
        raise RuntimeError("a bug")

    # Patching one method of the live client: mypy forbids assigning to a method, the test means to.
    bot.services.jobs._perf.status = broken_status  # type: ignore[method-assign]
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.FAILED and job.finalized
    [root] = bot.slack.roots(CHANNEL)
    assert "videobot hit an internal error (RuntimeError)" in root.all_text()


async def test_a_dropped_connection_is_retried_on_a_poll_but_never_on_a_create(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.create_script = [Scripted(202, drop=True)]
    await bot.command("First: the create's connection drops")
    await bot.run_jobs()
    assert (await bot.only_job()).state == JobState.UNKNOWN
    assert bot.perf.create_requests == 1

    bot.perf.poll_script = [Scripted(200, drop=True)]
    await bot.command("Second: a poll's connection drops")
    await bot.run_jobs()
    [second] = [j for j in await bot.services.store.jobs() if j.prompt.startswith("Second")]
    assert second.state == JobState.DELIVERED
    assert bot.perf.create_requests == 2


async def test_jobs_left_behind_by_a_full_tick_start_as_soon_as_there_is_room(make_bot: MakeBot) -> None:
    # One step at a time, so a tick takes at most four jobs; the interval tick and every job's next poll
    # are far beyond this test. Only a step making room can start the rest.
    bot = await make_bot(poll_concurrency=1, poll_tick_seconds=3600.0, poll_min_seconds=600.0, max_concurrent_jobs=0)
    for n in range(10):
        await bot.services.store.insert_job(
            stored_job(id=f"vb_backlog{n:02d}", created_at=bot.clock.now(), next_poll_at=bot.clock.now())
        )
    posting = bot.slack.gates["chat.postMessage"] = asyncio.Event()
    bot.services.poller.start()
    await wait_for(lambda: bot.slack.held.get("chat.postMessage") == 1, what="the first step under way")
    # A tick now finds no room: the four taken go one at a time. (Run here rather than waited for: the wake the
    # first tick set for the six left may fire before or after this point, and one before found room unknown.)
    bot.clock.advance(0.001)
    await bot.services.poller.tick()
    assert bot.services.poller.last_tick_at == bot.clock.now()
    assert len(bot.perf.creates) == 0, "the six left behind wait for room"
    posting.set()
    await wait_for(lambda: len(bot.perf.creates) == 10, within=20, what="all ten jobs reaching Perf")
    # Their roots follow at the channel's pace (about one a second), not ahead of the paid work.
    await wait_for(lambda: len(bot.slack.roots(CHANNEL)) == 10, within=20, what="all ten roots posted")


async def test_a_media_host_that_serves_no_video_fails_the_job_with_a_clear_message(make_bot: MakeBot) -> None:
    bot = await make_bot()
    bot.perf.media_content_type = "text/html"  # a login page, an error page: not a video, whatever the link says
    await bot.command("A quiet harbour at dawn")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.FAILED and not job.delivered_as_link
    [root] = bot.slack.roots(CHANNEL)
    assert bot.slack.files_in_thread(CHANNEL, root.ts) == []
    told = " ".join(m.text for m in bot.slack.messages)
    assert "the media host sent text/html, not a video" in told


async def test_a_video_of_unknown_size_is_spooled_only_up_to_the_limit_then_linked(make_bot: MakeBot) -> None:
    bot = await make_bot(max_spool_mb=1)
    bot.perf.media_content_length = False
    bot.perf.video_size = 3_000_000
    await bot.command("A quiet harbour at dawn")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.DELIVERED and job.delivered_as_link
    assert "VIDEOBOT_MAX_SPOOL_MB" in (job.delivery_note or "")
    [root] = bot.slack.roots(CHANNEL)
    assert bot.slack.files_in_thread(CHANNEL, root.ts) == []


async def test_a_media_host_too_slow_for_the_delivery_deadline_frees_its_slot_and_delivers_once(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(delivery_timeout_seconds=0.2)
    bot.perf.video_size = 3_000_000
    bot.perf.media_gate = gate = asyncio.Event()  # half the video, then nothing: a host that never finishes
    await bot.command("A quiet harbour at dawn")
    await bot.run_jobs()
    job = await bot.only_job()
    # Each attempt ended at its deadline; after the last, the link, once, and never a file.
    assert job.state == JobState.DELIVERED and job.delivered_as_link
    assert "VIDEOBOT_DELIVERY_TIMEOUT_SECONDS" in (job.delivery_note or "")
    assert len(bot.perf.media_requests) == MAX_DELIVERY_ATTEMPTS
    [root] = bot.slack.roots(CHANNEL)
    assert bot.slack.files_in_thread(CHANNEL, root.ts) == []
    assert bot.slack.call_count("files.completeUploadExternal") == 0
    gate.set()  # the fake host's handlers end, as its connections already have
