"""The HTTP surface as an attacker finds it (issue 29): deadlines, the connection cap, bounded memory, requests
refused before anything reads them, no body in the log, and what each port shows."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.jobs.poller import HEARTBEAT_SECONDS
from bot.runtime.logs import RedactSecrets
from bot.runtime.web import Listening, listen
from tests.conftest import SIGNING_SECRET, Bot, MakeBot, signed_headers, slash_command_body
from tests.fakes.databases import writes_refused
from tests.fakes.jobs import stored_job
from tests.fakes.perf import FakePerf
from tests.fakes.process import BotProcess, bot_environment, videobot_command, wait_for
from tests.fakes.slack import FakeSlack

READ_SECONDS = 0.5
CAP = 8


@dataclass
class Served:
    bot: Bot
    listening: Listening

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listening.slack_port}"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.listening.health_port}"


@pytest.fixture
async def served(make_bot: MakeBot) -> AsyncIterator[Served]:
    bot = await make_bot(health_port=0, http_read_timeout_seconds=READ_SECONDS, http_max_connections=CAP)
    listening = await listen(bot.services, bot.bolt, {})
    yield Served(bot, listening)
    await bot.services.poller.stop(0.0)
    await listening.close()


async def command(url: str, text: str = "help", user: str = "UALICE001") -> httpx.Response:
    body = slash_command_body(text, user=user)
    async with httpx.AsyncClient() as client:
        return await client.post(f"{url}/slack/events", content=body, headers=signed_headers(body))


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: bytes, drip: bytes, within: float = 10.0
) -> bytes:
    """Send `start`, then `drip` a byte at a time, until the server closes; what it answered (b"" for nothing)."""
    writer.write(start)
    deadline = time.monotonic() + within
    answer = b""
    while time.monotonic() < deadline:
        try:
            writer.write(drip)
            await writer.drain()
            got = await asyncio.wait_for(reader.read(1024), 0.05)
        except TimeoutError:
            continue
        except ConnectionError:
            return answer
        if not got:
            return answer
        answer += got
    raise AssertionError(f"the connection was still open after {within} s of trickling")


async def test_a_request_whose_headers_trickle_in_is_closed_at_its_deadline(served: Served) -> None:
    assert served.listening.slack_port is not None
    reader, writer = await connect(served.listening.slack_port)
    started = time.monotonic()
    answer = await trickle_until_closed(reader, writer, b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n", b"X")
    assert answer == b"", "closed, not answered"
    assert time.monotonic() - started >= READ_SECONDS, "not before its deadline"
    writer.close()
    assert (await command(served.url)).status_code == 200


async def test_a_request_whose_body_trickles_in_is_closed_at_its_deadline(served: Served) -> None:
    assert served.listening.slack_port is not None
    reader, writer = await connect(served.listening.slack_port)
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    answer = await trickle_until_closed(reader, writer, head, b"a")
    assert answer == b""
    writer.close()
    assert (await command(served.url)).status_code == 200


async def test_past_the_cap_a_connection_gets_503_while_health_answers_and_the_port_recovers(served: Served) -> None:
    assert served.listening.slack_port is not None
    idle = [await connect(served.listening.slack_port) for _ in range(CAP)]
    reader, writer = await connect(served.listening.slack_port)
    refused = await asyncio.wait_for(reader.read(), 5)
    assert refused.startswith(b"HTTP/1.1 503")
    writer.close()
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{served.health_url}/healthz")).status_code in (200, 503)
    # The idle connections sent nothing: their deadline closes them, and the port takes requests again.
    for idle_reader, idle_writer in idle:
        assert await asyncio.wait_for(idle_reader.read(), 10) == b""
        idle_writer.close()
    assert (await command(served.url)).status_code == 200


NOW = str(int(time.time())).encode()
MALFORMED: dict[str, tuple[bytes, dict[bytes, bytes]]] = {
    "a body that is not UTF-8": (
        b"\xff\xfe\x00command=/video",
        {b"X-Slack-Request-Timestamp": NOW, b"X-Slack-Signature": b"v0=" + b"0" * 64},
    ),
    "a timestamp of ²": (
        b"command=/video",
        {b"X-Slack-Request-Timestamp": "²".encode(), b"X-Slack-Signature": b"v0=1"},
    ),
    "a timestamp of 5,000 digits": (
        b"command=/video",
        {b"X-Slack-Request-Timestamp": b"9" * 5000, b"X-Slack-Signature": b"v0=1"},
    ),
    "JSON nested 200,000 deep": (
        b"[" * 200_000 + b"]" * 200_000,
        {b"Content-Type": b"application/json", b"X-Slack-Request-Timestamp": NOW, b"X-Slack-Signature": b"v0=1"},
    ),
    "no signature headers": (b'{"type": "url_verification"}', {b"Content-Type": b"application/json"}),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_unsigned_request_gets_401_and_one_log_line_without_a_traceback(
    served: Served, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, headers = MALFORMED[case]
    caplog.clear()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{served.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    ours = [r for r in caplog.records if r.levelno >= logging.INFO and not r.name.startswith(("httpx", "httpcore"))]
    assert [r.getMessage().split()[0] for r in ours] == ["event=request_refused"], [r.getMessage() for r in ours]
    assert ours[0].exc_info is None


async def test_unsigned_posts_do_not_hold_the_pollers_steps_back(served: Served) -> None:
    bot = served.bot
    # Were the flood below taken for Slack's requests, the tick would wait a minute for a quiet moment.
    bot.services.poller.acks.quiet_seconds = 60.0
    bot.services.poller.acks.at_most_seconds = 60.0
    await bot.services.store.insert_job(stored_job(created_at=bot.clock.now(), next_poll_at=bot.clock.now()))
    body = slash_command_body("A lighthouse")
    async with httpx.AsyncClient() as client:

        async def flood() -> None:
            while True:
                await client.post(f"{served.url}/slack/events", content=body, headers={"X-Slack-Signature": "v0=1"})

        flooding = asyncio.create_task(flood())
        await wait_for(lambda: served.listening.slack_port is not None, what="the port")
        ticking = asyncio.create_task(bot.services.poller.tick())
        try:
            await wait_for(lambda: len(bot.perf.creates) == 1, within=10, what="the job reaching Perf")
        finally:
            flooding.cancel()
            await asyncio.gather(flooding, return_exceptions=True)
            await ticking


async def test_the_public_healthz_says_ok_or_not_and_nothing_else(served: Served) -> None:
    await served.bot.step()
    async with httpx.AsyncClient() as client:
        public = await client.get(f"{served.url}/healthz")
        detailed = await client.get(f"{served.health_url}/healthz")
        assert (await client.get(f"{served.url}/readyz")).status_code == 404
        assert (await client.post(f"{served.health_url}/slack/events", content=b"")).status_code in (404, 405)
    assert public.status_code == 200 and public.json() == {"ok": True}
    details = detailed.json()
    assert details["ok"] and details["writes"] == "ok" and details["replica"] == served.bot.services.poller.replica
    assert details["database_at"] == served.bot.services.store.description


# --- the log ----------------------------------------------------------------------------------------------


def _formatted(message: str, logger: str = "videobot.app", secrets: tuple[str, ...] = ()) -> str:
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, message, None, None)
    RedactSecrets(secrets).filter(record)
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)


@pytest.mark.parametrize(
    ("leak", "kept"),
    [
        ("token xoxb-1234-5678-abcdefABCDEF", "token xox?-[redacted]"),
        ("rotating xoxe.xoxp-1-Mi0yLTE", "rotating xox?-[redacted]"),
        ("app xapp-1-A0001-123-abcdef", "app xapp-[redacted]"),
        ('{"bot_access_token": "xwfp-1-SECRET"}', '{"bot_access_token": "xwfp-[redacted]"}'),
        ("url=https://hooks.slack.com/commands/T1/2/abc x", "url=https://hooks.slack.com/[redacted] x"),
        ("response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2Fabc&x=1", "hooks.slack.com/[redacted]&x=1"),
        ('"https:\\/\\/hooks.slack.com\\/actions\\/T1\\/2\\/abc"', '"https:\\/\\/hooks.slack.com/[redacted]"'),
        ("db postgresql://videobot:hunter2@db:5432/videobot", "db postgresql://videobot:[redacted]@db:5432/videobot"),
        ("key pk_live_abcdef123", "key pk_[redacted]"),
    ],
)
def test_credentials_are_redacted_by_their_shape_in_any_line(leak: str, kept: str) -> None:
    line = _formatted(leak)
    assert kept in line
    for secret in ("1234-5678", "Mi0yLTE", "A0001-123", "SECRET", "T1/2/abc", "T1%2F2", "hunter2", "abcdef123"):
        assert secret not in line


def test_a_body_with_a_newline_cannot_forge_a_log_line_nor_bolt_log_a_body() -> None:
    forged = _formatted("event=request_refused text=a\n2026-12-03 00:00:00 WARNING videobot.app event=forged")
    assert "\n" not in forged and "\\n2026-12-03" in forged
    bolt = _formatted(
        "Invalid request signature detected (signature: v0=1, timestamp: 1, body: text=SECRET+BODY)",
        logger="slack_bolt.AsyncApp",
    )
    assert "SECRET" not in bolt and "body: [not logged]" in bolt
    assert len(_formatted("x" * 100_000)) < 5_000


@pytest.fixture
async def logging_bot(fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path) -> AsyncIterator[BotProcess]:
    env = bot_environment(fake_slack, fake_perf, tmp_path / "bot.db", VIDEOBOT_LOG_LEVEL="DEBUG")
    bot = BotProcess(env, tmp_path)
    await bot.start()
    yield bot
    await bot.terminate()


async def test_no_request_body_reaches_the_log_whether_forged_stale_or_huge(logging_bot: BotProcess) -> None:
    bot = logging_bot
    forged_body = slash_command_body(
        "BODY-MARKER\n2026-12-03 00:00:00,000 WARNING videobot.app event=forged",
        response_url="https://hooks.slack.com/commands/T1/2/HOOKSECRET",
    )
    step = json.dumps(
        {
            "type": "event_callback",
            "event": {"type": "function_executed", "bot_access_token": "xwfp-1-WORKFLOWSECRET", "note": "BODY-MARKER"},
        }
    )
    huge = "text=BODY-MARKER" + "x" * 2_000_000
    async with httpx.AsyncClient() as client:
        url = f"{bot.url}/slack/events"
        forged = await client.post(url, content=forged_body, headers=signed_headers(forged_body, secret="guess"))
        stale = await client.post(
            url,
            content=step,
            headers=signed_headers(step, content_type="application/json", timestamp=int(time.time()) - 600),
        )
        too_big = await client.post(url, content=huge, headers=signed_headers(huge))
    assert (forged.status_code, stale.status_code, too_big.status_code) == (401, 401, 413)
    # And a request aiohttp cannot even parse (a control character in a header): aiohttp's own error line,
    # with a traceback quoting the header, becomes one line like the others.
    reader, writer = await connect(bot.port)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nX-Note: BODY-MARKER\x01\r\nContent-Length: 0\r\n\r\n")
    assert b" 400 " in (await asyncio.wait_for(reader.read(), 10)).split(b"\r\n")[0]
    writer.close()
    await wait_for(lambda: bot.log_text().count("event=request_refused") == 4, what="one line for each")
    log = bot.log_text()
    assert "Traceback" not in log and "reason=malformed_http" in log
    for secret in ("BODY-MARKER", "WORKFLOWSECRET", "HOOKSECRET", "event=forged"):
        assert secret not in log, secret
    assert SIGNING_SECRET not in log
    assert "reason=bad_signature" in log and "reason=stale" in log and "reason=too_large" in log


async def test_stalled_bodies_keep_memory_bounded_and_the_bot_answers(
    fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path
) -> None:
    from bench.run import rss_bytes

    env = bot_environment(
        fake_slack,
        fake_perf,
        tmp_path / "bot.db",
        VIDEOBOT_HTTP_READ_TIMEOUT_SECONDS="60",
        VIDEOBOT_HTTP_MAX_CONNECTIONS="400",
    )
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        before = rss_bytes(bot.pid)
        connections, part = 200, 900_000
        head = (
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000000\r\n\r\n"
        )
        answers: list[bytes] = []
        opened: list[asyncio.StreamWriter] = []

        async def stall() -> None:
            reader, writer = await connect(bot.port)
            opened.append(writer)
            writer.write(head + b"a" * part)  # half the body, then nothing
            await writer.drain()
            answers.append(await reader.read(12))

        stalling = [asyncio.create_task(stall()) for _ in range(connections)]
        bound = 96 * 1024 * 1024
        # Each body the bot took in is held until it is complete: only a budget's worth may be, and the
        # rest are answered at once. Without one, memory grows by every half body sent.
        await wait_for(
            lambda: len(answers) >= connections - 40 or rss_bytes(bot.pid) - before > bound,
            within=60,
            what="the stalled bodies to be answered or memory to grow",
        )
        grown = rss_bytes(bot.pid) - before
        assert grown <= bound, f"memory grew by {grown / 1e6:.0f} MB for {connections} stalled bodies"
        assert all(answer.startswith(b"HTTP/1.1 503") for answer in answers)
        assert (await command(bot.url)).status_code == 200
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{bot.health_url}/healthz")).status_code == 200
        # A stop is not held up by the connections still stalled: SIGTERM ends the bot at once.
        assert await bot.terminate() == 0
        for writer in opened:
            writer.close()
        for task in stalling:
            task.cancel()
        await asyncio.gather(*stalling, return_exceptions=True)
    finally:
        await bot.terminate()


# --- health when nothing can be written -----------------------------------------------------------------


async def health(served: Served) -> tuple[int, dict[str, object], int]:
    async with httpx.AsyncClient() as client:
        detailed = await client.get(f"{served.health_url}/healthz")
        public = await client.get(f"{served.url}/healthz")
    return detailed.status_code, detailed.json(), public.status_code


async def test_health_goes_unhealthy_while_writes_fail_and_back_when_they_work(
    served: Served, database_url: str
) -> None:
    bot = served.bot
    # A job due later, once the database refuses writes.
    later = bot.clock.now() + 1000
    await bot.services.store.insert_job(stored_job(created_at=bot.clock.now(), next_poll_at=later))
    await bot.step()
    status, details, public = await health(served)
    assert (status, details["writes"], public) == (200, "ok", 200)
    written_at = details["last_write_ok_at"]

    async with writes_refused(database_url):
        bot.clock.advance(HEARTBEAT_SECONDS)
        await bot.step()
        status, details, public = await health(served)
        # A read still works: the old check (SELECT 1) said healthy here.
        assert (status, public) == (503, 503)
        assert details["writes"] == "failing" and details["database"] == "ok"
        assert details["last_write_ok_at"] == written_at and details["last_write_error"]
        # The job, now due, cannot be claimed: ticks stop completing too, and health says since when.
        completed = details["last_tick_completed_at"]
        bot.clock.t = later + 60
        with pytest.raises(Exception):  # noqa: B017 - whatever the engine raises for a refused write
            await bot.services.poller.tick()
        status, details, _ = await health(served)
        assert details["poller"] == "ticks not completing" and details["last_tick_completed_at"] == completed

    await bot.step()
    status, details, public = await health(served)
    assert (status, details["writes"], details["poller"], public) == (200, "ok", "ok", 200)
    assert details["last_write_error"] is None


@pytest.mark.parametrize("setting", ["PORT", "VIDEOBOT_HEALTH_ADDRESS"])
async def test_a_port_already_in_use_is_one_line_naming_its_setting(
    fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path, setting: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        value = str(port) if setting == "PORT" else f"127.0.0.1:{port}"
        env = bot_environment(fake_slack, fake_perf, tmp_path / "bot.db", **{setting: value})
        proc = await asyncio.create_subprocess_exec(
            *videobot_command(), env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    text = stderr.decode()
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("videobot: ") and f"127.0.0.1:{port} is already in use ({setting})" in last, last
