"""End to end: `videobot run` as a subprocess, signed HTTP requests in, the fakes of Slack and Perf out."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol, TypedDict, Unpack
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.conftest import CHANNEL, SIGNING_SECRET, reaction_event_body, signed_headers, slash_command_body
from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.process import FAST_POLLING, BotProcess, bot_environment, videobot_command, wait_for
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY, APP_TOKEN)


@pytest.fixture
def bot_env(fake_slack: FakeSlack, fake_perf: FakePerf, database_url: str) -> dict[str, str]:
    return bot_environment(
        fake_slack,
        fake_perf,
        database_url,
        # On PostgreSQL a restarted bot is a new replica: the killed one's jobs wait for its leases to lapse.
        VIDEOBOT_LEASE_SECONDS="2",
        **FAST_POLLING,
        VIDEOBOT_LOG_LEVEL="DEBUG",
    )


class StartBot(Protocol):
    """The `start_bot` fixture: `videobot run` in a process of its own, with these variables added."""

    async def __call__(self, **env_overrides: str) -> BotProcess: ...


class Signing(TypedDict, total=False):
    """How `signed_headers` may sign a request other than the suite's way."""

    secret: str
    timestamp: int | None


@pytest.fixture
async def start_bot(bot_env: dict[str, str], tmp_path: Path) -> AsyncIterator[StartBot]:
    started: list[BotProcess] = []

    async def start(**env_overrides: str) -> BotProcess:
        process = BotProcess({**bot_env, **env_overrides}, tmp_path)
        await process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is None:
            await process.terminate()
        leaked = [s for s in SECRETS if s in process.log_text()]
        assert not leaked, "a secret was written to the log"


async def send_command(
    bot: BotProcess, text: str, response_url: str = "", **signing: Unpack[Signing]
) -> httpx.Response:
    body = slash_command_body(text, response_url=response_url)
    async with httpx.AsyncClient() as client:
        return await client.post(f"{bot.url}/slack/events", content=body, headers=signed_headers(body, **signing))


def free_port() -> int:
    """A port nothing listens on (the kernel's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def delivered(fake_slack: FakeSlack) -> bool:
    return any(file.shares for file in fake_slack.files.values())


async def test_a_signed_command_over_http_ends_with_the_video_in_the_thread(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot()
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{bot.url}/healthz")).status_code == 200

    response = await send_command(bot, "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16")
    assert response.status_code == 200 and response.text == ""

    await wait_for(lambda: delivered(fake_slack), what="the video in the thread")
    [root] = fake_slack.roots(CHANNEL)
    [video] = fake_slack.files_in_thread(CHANNEL, root.ts)
    perf_job_id = next(iter(fake_perf.jobs))
    assert video.sha256 == hashlib.sha256(fake_perf.video_for(perf_job_id)).hexdigest()
    await wait_for(lambda: "✅ Done" in root.all_text(), what="the root message's final edit")
    assert len(fake_perf.creates) == 1
    job_lines = [line for line in bot.output if "job=vb_" in line]
    assert any("event=delivered" in line for line in job_lines)


async def test_bad_input_over_http_gets_a_private_answer(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot()
    response = await send_command(bot, "A glacier --model veo-3 --duration 61")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "veo-3 makes videos of up to 60 s" in response.json()["text"]
    assert fake_perf.creates == [] and fake_slack.messages == []


async def test_forged_unsigned_and_stale_requests_get_401_and_do_nothing(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot()
    body = slash_command_body("A lighthouse")
    forged = signed_headers(body, secret="not-the-secret")
    stale = signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient() as client:
        for headers in (forged, stale, unsigned):
            response = await client.post(f"{bot.url}/slack/events", content=body, headers=headers)
            assert response.status_code == 401
        tampered = signed_headers(body)
        response = await client.post(f"{bot.url}/slack/events", content=body + "&x=1", headers=tampered)
        assert response.status_code == 401
    # A genuine request still works afterwards, and none of the refused ones left a trace anywhere.
    # (A replay of a request that was taken is covered by its own test below.)
    assert "/video <prompt>" in (await send_command(bot, "help")).json()["text"]
    assert fake_perf.create_requests == 0 and fake_slack.messages == []
    # auth.test: the start's check of the bot token (and the workspace's address, asked once).
    assert [method for method, _ in fake_slack.calls if method != "auth.test"] == []


async def test_sigkill_mid_job_then_restart_delivers_exactly_once(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    fake_perf.hold()
    bot = await start_bot()
    await send_command(bot, "A lighthouse in a storm")
    await wait_for(lambda: len(fake_perf.polls) >= 3, what="the job to be polled")
    await bot.kill()

    fake_perf.release()
    restarted = await start_bot()
    await wait_for(lambda: delivered(fake_slack), what="the video after the restart")
    [root] = fake_slack.roots(CHANNEL)
    await wait_for(lambda: "✅ Done" in root.all_text(), what="the final edit")
    assert len(fake_perf.creates) == 1
    assert len(fake_slack.files_in_thread(CHANNEL, root.ts)) == 1
    assert len(fake_slack.thread(CHANNEL, root.ts)) == 1, "one progress message, edited in place"
    assert "event=delivered" in restarted.log_text()


async def test_sigkill_while_the_create_is_in_flight_never_submits_twice(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    fake_perf.create_gate = asyncio.Event()
    bot = await start_bot()
    response = await send_command(bot, "A lighthouse in a storm")
    # Slack has its answer while the create is still held at Perf: the work happens after the ack.
    assert response.status_code == 200 and fake_perf.creates == []
    await wait_for(lambda: fake_perf.create_requests == 1, what="the create request to reach Perf")
    await bot.kill()
    fake_perf.create_gate.set()  # Perf goes on and creates the job; the bot never heard back.
    await wait_for(lambda: len(fake_perf.creates) == 1, what="Perf to create the job")

    await start_bot()
    [root] = fake_slack.roots(CHANNEL)
    await wait_for(lambda: "Not sure Perf received this job" in root.all_text(), what="the root to say so")
    [note] = fake_slack.thread(CHANNEL, root.ts)
    assert "did not send it again" in note.text
    assert fake_perf.create_requests == 1


async def test_sigterm_stops_cleanly(start_bot: StartBot) -> None:
    bot = await start_bot()
    assert await bot.terminate() == 0
    assert "event=stopped" in bot.log_text()


async def test_a_missing_setting_stops_the_start_with_one_line_naming_it(
    bot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in bot_env.items() if k != "PERF_API_KEY"}
    proc = await asyncio.create_subprocess_exec(
        *videobot_command(), env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "PERF_API_KEY" in lines[0], lines


async def test_socket_mode_takes_a_command_over_the_websocket_and_delivers(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    port = free_port()
    bot = await start_bot(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="", PORT=str(port))
    await wait_for(lambda: any(not s.closed for s in fake_slack.sockets), what="the Socket Mode connection")
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{bot.health_url}/healthz")
        assert health.status_code == 200 and health.json()["slack_socket"] == "ok"
        # In Socket Mode nothing is taken over HTTP, signed or not: Slack's port is not even bound.
        body = slash_command_body("A lighthouse")
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed_headers(body))
    assert bot.port == 0 and "mode=socket" in bot.log_text()

    payload = dict(parse_qsl(slash_command_body("A lighthouse in a storm --model pika")))
    envelope = await fake_slack.send_envelope("slash_commands", payload)
    await wait_for(lambda: envelope in fake_slack.socket_acks, what="the ack over the websocket")
    await wait_for(lambda: delivered(fake_slack), what="the video in the thread")
    assert fake_perf.creates[0]["model"] == "pika"

    refused = await fake_slack.send_envelope(
        "slash_commands", dict(parse_qsl(slash_command_body("A cat --model sora")))
    )
    await wait_for(lambda: refused in fake_slack.socket_acks, what="the refusal")
    assert "There is no model `sora`" in fake_slack.socket_acks[refused]["text"]
    assert len(fake_perf.creates) == 1

    # A 🔁 reaction arrives as an events_api envelope, twice (Slack retried it): one rerun.
    [root] = fake_slack.roots(CHANNEL)
    for _ in range(2):
        reacted = await fake_slack.send_envelope("events_api", json.loads(reaction_event_body(root.ts)))

        def acked(envelope: str = reacted) -> bool:
            return envelope in fake_slack.socket_acks

        await wait_for(acked, what="the reaction's ack")
    await wait_for(lambda: len(fake_perf.creates) == 2, what="the rerun at Perf")
    assert fake_perf.creates[1]["model"] == "pika"
    await wait_for(lambda: sum(bool(f.shares) for f in fake_slack.files.values()) == 2, what="the rerun's video")
    assert len(fake_perf.creates) == 2


async def send_event(bot: BotProcess, body: str, retry_num: int | None = None) -> httpx.Response:
    # Slack signs every delivery afresh, so a retry carries its own timestamp (a minute apart here, so
    # that no two deliveries in one test can share a signature).
    timestamp = int(time.time()) + 60 * (retry_num or 0)
    headers = signed_headers(body, content_type="application/json", timestamp=timestamp)
    if retry_num is not None:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{bot.url}/slack/events", content=body, headers=headers)


async def test_a_repeat_reaction_makes_exactly_one_new_submission_whatever_slack_redelivers(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot()
    await send_command(bot, "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16")
    await wait_for(lambda: delivered(fake_slack), what="the first video")
    [root] = fake_slack.roots(CHANNEL)
    [progress] = fake_slack.thread(CHANNEL, root.ts)

    # Not reruns: another emoji, the bot's reply in the thread, a message that is not a job's.
    for number, body in enumerate(
        (
            reaction_event_body(root.ts, reaction="tada"),
            reaction_event_body(progress.ts),
            reaction_event_body("1699999999.000001"),
        )
    ):
        response = await send_event(bot, body.replace("Ev0001", f"EvX{number}"))
        assert response.status_code == 200
    assert fake_perf.create_requests == 1

    # The reaction, Slack's retries of it, and the person removing and adding it again.
    assert (await send_event(bot, reaction_event_body(root.ts, event_id="Ev1"))).status_code == 200
    assert (await send_event(bot, reaction_event_body(root.ts, event_id="Ev1"), retry_num=1)).status_code == 200
    await send_event(bot, reaction_event_body(root.ts, event_id="Ev2"))
    await wait_for(lambda: len(fake_slack.roots(CHANNEL)) == 2, what="the rerun's message")
    await wait_for(lambda: sum(bool(f.shares) for f in fake_slack.files.values()) == 2, what="the second video")

    # And again after a restart.
    await bot.kill()
    restarted = await start_bot()
    await send_event(restarted, reaction_event_body(root.ts, event_id="Ev3"))
    assert (await send_event(restarted, reaction_event_body(root.ts, event_id="Ev1"), retry_num=2)).status_code == 200
    # Someone else's reaction does start a rerun. Jobs are submitted in the order they were stored, so
    # once hers is at Perf, any job the events above had wrongly started would be there too.
    await send_event(restarted, reaction_event_body(root.ts, user="UCAROL03", event_id="Ev4"))
    await wait_for(lambda: fake_perf.create_requests >= 3, what="the second person's rerun")

    assert fake_perf.create_requests == 3
    first, second, third = fake_perf.creates
    assert first == second == third
    assert len(fake_slack.roots(CHANNEL)) == 3
    assert any("event=accepted" in line and "rerun_of=vb_" in line for line in bot.output)


async def test_a_burst_of_twelve_on_a_quota_of_three_submits_exactly_three(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot(VIDEOBOT_DAILY_JOBS_PER_CHANNEL="3")

    async def command_from(person: int) -> httpx.Response:
        body = slash_command_body(f"Scene {person}", user=f"UPERSON{person:02d}")
        async with httpx.AsyncClient() as client:
            return await client.post(f"{bot.url}/slack/events", content=body, headers=signed_headers(body))

    responses = await asyncio.gather(*(command_from(n) for n in range(12)))
    assert all(r.status_code == 200 for r in responses)
    refused = [r.json()["text"] for r in responses if r.text]
    assert len(refused) == 9
    assert all("This channel has used its 3 jobs for today" in text for text in refused)
    await wait_for(lambda: sum(bool(f.shares) for f in fake_slack.files.values()) == 3, what="three videos")
    assert fake_perf.create_requests == 3 and len(fake_slack.roots(CHANNEL)) == 3


async def test_the_daily_report_is_posted_once_across_a_restart(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf, bot_env: dict[str, str]
) -> None:
    from storage.db import Store
    from tests.fakes.jobs import delivered_yesterday

    store = await Store.open(bot_env["DATABASE_URL"])
    for n, user in enumerate(("UALICE01", "UALICE01", "UBOB0002")):
        await store.insert_job(delivered_yesterday(n, time.time(), user_id=user, prompt=f"Scene {n}"))
    await store.close()
    fake_slack.add_user("UALICE01", display_name="alice")

    # The report time has passed today, so the report for yesterday is due as soon as the bot starts.
    bot = await start_bot(VIDEOBOT_REPORT_TIME="00:00")
    await wait_for(lambda: any("event=reports_checked" in line for line in bot.output), what="the report run")
    await bot.kill()
    restarted = await start_bot(VIDEOBOT_REPORT_TIME="00:00")
    await wait_for(lambda: any("event=reports_checked" in line for line in restarted.output), what="the second run")

    [report] = [m for m in fake_slack.roots(CHANNEL) if "📊" in m.text]
    text = report.all_text()
    assert "Jobs: 3 · delivered 3 · failed 0" in text and "Cost: $0.90" in text
    assert "alice (2 jobs, $0.60)" in text and "Busiest model: pika" in text
    assert any("posted=0" in line for line in restarted.output if "event=reports_checked" in line)


async def test_a_replayed_request_gets_401_and_starts_nothing_even_after_a_restart(
    start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    bot = await start_bot()
    body = slash_command_body("A lighthouse in a storm")
    headers = signed_headers(body)
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{bot.url}/slack/events", content=body, headers=headers)).status_code == 200
        assert (await client.post(f"{bot.url}/slack/events", content=body, headers=headers)).status_code == 401
    await wait_for(lambda: delivered(fake_slack), what="the one video")
    await bot.kill()
    restarted = await start_bot()
    async with httpx.AsyncClient() as client:
        replay = await client.post(f"{restarted.url}/slack/events", content=body, headers=headers)
    assert replay.status_code == 401
    # The same command typed again is a new request with its own signature, and is taken.
    assert (await send_command(restarted, "A lighthouse in a storm ", response_url="")).status_code == 200
    await wait_for(lambda: fake_perf.create_requests == 2, what="the second, genuine command")
    assert len(fake_slack.roots(CHANNEL)) == 2
    assert any("event=replayed_request_refused" in line for line in restarted.output)


def arm_kill_point(step: str, fake_slack: FakeSlack, fake_perf: FakePerf) -> tuple[asyncio.Event, Callable[[], bool]]:
    """Make the fakes hold the bot at `step`; returns the gate and a check that the bot is held there."""
    gate = asyncio.Event()
    if step == "stored, before the root message":
        fake_slack.gates["chat.postMessage"] = gate
        return gate, lambda: fake_slack.held.get("chat.postMessage", 0) > 0
    if step == "accepted by Perf, before its id was stored":
        fake_perf.answer_gate = gate
        return gate, lambda: fake_perf.held["answer"] > 0
    if step == "downloading":
        fake_perf.media_gate = gate
        return gate, lambda: fake_perf.held["media"] > 0
    if step == "uploading":
        fake_slack.gates["upload"] = gate
        return gate, lambda: fake_slack.held.get("upload", 0) > 0
    assert step == "before the root message's final edit"
    fake_slack.gates["chat.update"] = gate
    fake_slack.gate_filters["chat.update"] = lambda params: "✅ Done" in str(params.get("text", ""))
    return gate, lambda: fake_slack.held.get("chat.update", 0) > 0


@pytest.mark.parametrize(
    "step",
    [
        "stored, before the root message",
        "accepted by Perf, before its id was stored",
        "downloading",
        "uploading",
        "before the root message's final edit",
    ],
)
async def test_sigkill_at_any_step_loses_nothing_and_repeats_nothing(
    step: str, start_bot: StartBot, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    gate, held = arm_kill_point(step, fake_slack, fake_perf)
    bot = await start_bot()
    await send_command(bot, "A lighthouse in a storm")
    await wait_for(held, what=f"the bot to reach: {step}")
    await bot.kill()
    gate.set()  # the fakes answer a connection nobody listens to any more
    fake_slack.gates.clear()
    fake_perf.answer_gate = fake_perf.media_gate = None

    await start_bot()
    await wait_for(lambda: len(fake_slack.roots(CHANNEL)) == 1, what="the job's message")
    [root] = fake_slack.roots(CHANNEL)
    if step == "accepted by Perf, before its id was stored":
        # The bot cannot know Perf has it: it says so and offers the rerun, and never sends it again.
        await wait_for(lambda: "⚠️" in root.all_text(), what="the unknown outcome in the root message")
        [note] = fake_slack.thread(CHANNEL, root.ts)
        assert "can't tell whether Perf received it" in note.text and "Run again" in note.text
        assert fake_slack.files_in_thread(CHANNEL, root.ts) == []
    else:
        await wait_for(lambda: "✅ Done" in root.all_text(), what="the final edit")
        assert len(fake_slack.files_in_thread(CHANNEL, root.ts)) == 1
        assert len(fake_slack.thread(CHANNEL, root.ts)) == 1, "one progress message, no duplicate"
    assert fake_perf.create_requests == 1, "a Perf job is never created twice"
    assert sum(len(f.shares) for f in fake_slack.files.values()) <= 1, "a video is never shared twice"
