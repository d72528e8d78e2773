"""Operating videobot: `videobot check`, the job commands, backups, /metrics, /readyz and JSON logs."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from storage.schema import MIGRATIONS
from tests.conftest import CHANNEL, signed_headers, slash_command_body
from tests.fakes.perf import FakePerf
from tests.fakes.process import FAST_POLLING, BotProcess, bot_environment, videobot_command, wait_for
from tests.fakes.slack import APP_TOKEN, FakeSlack


@pytest.fixture
def env(fake_slack: FakeSlack, fake_perf: FakePerf, database_url: str) -> dict[str, str]:
    return bot_environment(
        fake_slack,
        fake_perf,
        database_url,
        **FAST_POLLING,
    )


async def videobot(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *videobot_command(*args), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def start(env: dict[str, str], cwd: Path) -> BotProcess:
    bot = BotProcess(env, cwd)
    await bot.start()
    return bot


async def command(bot: BotProcess, text: str) -> httpx.Response:
    body = slash_command_body(text)
    async with httpx.AsyncClient() as client:
        return await client.post(f"{bot.url}/slack/events", content=body, headers=signed_headers(body))


def job_ids(bot: BotProcess) -> list[str]:
    return [m.group(1) for line in bot.output if (m := re.search(r"job=(vb_\w+) event=accepted", line))]


async def test_check_passes_against_working_slack_perf_and_database(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = await videobot(env, tmp_path, "check")
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ok   configuration", "ok   slack", "ok   perf", "ok   database"]
    assert (
        "auth.test ok" in lines[1]
        and "API key accepted" in lines[2]
        and re.search(r"schema version (\d+) of \1\b", lines[3])
    )


@pytest.mark.parametrize(
    ("change", "failing_line"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-wrong"}, "FAIL slack: Slack refused SLACK_BOT_TOKEN (invalid_auth)"),
        ({"PERF_API_KEY": "pk_test_wrong"}, "FAIL perf: Perf refused PERF_API_KEY (HTTP 401)"),
        ({"PERF_API_URL": "http://127.0.0.1:9"}, "FAIL perf: Perf at http://127.0.0.1:9 is not answering properly"),
        ({"PERF_API_KEY": ""}, "FAIL configuration: PERF_API_KEY is not set"),
    ],
)
async def test_check_names_what_is_wrong_and_fails(
    env: dict[str, str], tmp_path: Path, change: dict[str, str], failing_line: str
) -> None:
    code, out, _ = await videobot({**env, **change}, tmp_path, "check")
    assert code != 0
    assert any(line.startswith(failing_line) for line in out.splitlines()), out


async def test_retry_redelivers_a_job_whose_upload_failed_once_and_creates_nothing_at_perf(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    fake_slack.fail_next("files.getUploadURLExternal", error="file_too_large")
    bot = await start(env, tmp_path)
    await command(bot, "A lighthouse in a storm")
    await wait_for(lambda: any("event=delivered_as_link" in line for line in bot.output), what="the link")
    [job_id] = job_ids(bot)
    [root] = fake_slack.roots(CHANNEL)
    assert fake_slack.files_in_thread(CHANNEL, root.ts) == []

    code, out, _ = await videobot(env, tmp_path, "retry", job_id)
    assert code == 0 and "will be delivered again" in out
    await wait_for(lambda: len(fake_slack.files_in_thread(CHANNEL, root.ts)) == 1, what="the video after retry")
    assert fake_perf.create_requests == 1
    code, _, err = await videobot(env, tmp_path, "retry", job_id)
    await wait_for(lambda: "✅ Done" in root.all_text(), what="the final edit")
    assert code == 1 and "retry only re-delivers" in err
    assert len(fake_slack.files_in_thread(CHANNEL, root.ts)) == 1

    code, out, _ = await videobot(env, tmp_path, "job", job_id)
    assert code == 0 and "retry_delivery requested from the command line" in out and "delivered" in out
    code, out, _ = await videobot(env, tmp_path, "jobs", "--state", "delivered", "--since", "1h")
    assert code == 0 and job_id in out and "state" in out.splitlines()[0]
    await bot.terminate()


async def test_cancel_stops_a_running_job_and_says_it_may_be_charged(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack, fake_perf: FakePerf
) -> None:
    fake_perf.hold()
    bot = await start(env, tmp_path)
    await command(bot, "A lighthouse in a storm")
    await wait_for(lambda: len(fake_perf.polls) >= 2, what="the job to be polling")
    [job_id] = job_ids(bot)
    code, out, _ = await videobot(env, tmp_path, "cancel", job_id)
    assert code == 0 and "may still be charged" in out
    [root] = fake_slack.roots(CHANNEL)
    await wait_for(lambda: "🚫 Cancelled" in root.all_text(), what="the cancelled message")
    polls = len(fake_perf.polls)
    code, _, err = await videobot(env, tmp_path, "cancel", job_id)
    assert code == 1 and "already ended" in err
    assert len(fake_perf.polls) <= polls + 1, "a cancelled job is no longer polled"
    fake_perf.release()
    await bot.terminate()


async def test_backup_copies_the_database_while_the_bot_runs(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    bot = await start(env, tmp_path)
    await command(bot, "A lighthouse")
    await wait_for(lambda: any(f.shares for f in fake_slack.files.values()), what="the video")
    target = tmp_path / "backups" / "copy.db"
    code, out, err = await videobot(env, tmp_path, "backup", str(target))
    if env["DATABASE_URL"].startswith("postgresql"):
        # A copy of PostgreSQL is pg_dump's job; the command says so rather than copying nothing.
        assert code == 1 and "pg_dump" in err and not target.exists()
        await bot.terminate()
        return
    assert code == 0 and "backed up" in out
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT COUNT(*) FROM jobs").fetchone() == (1,)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    code, _, err = await videobot(env, tmp_path, "backup", str(target))
    assert code == 1 and "exists" in err
    await bot.terminate()


async def test_metrics_move_as_a_job_goes_through_and_are_off_by_default(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    quiet = await start(env, tmp_path)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{quiet.health_url}/metrics")).status_code == 404
        assert (await client.get(f"{quiet.health_url}/readyz")).status_code in (200, 503)
    await quiet.terminate()

    bot = await start({**env, "VIDEOBOT_METRICS": "1"}, tmp_path)
    async with httpx.AsyncClient() as client:
        before = (await client.get(f"{bot.health_url}/metrics")).text
        assert "videobot_jobs_delivered 0.0" in before
        await command(bot, "A lighthouse")
        await wait_for(lambda: any(f.shares for f in fake_slack.files.values()), what="the video")
        await wait_for(lambda: any("event=finalized" in line for line in bot.output), what="the final edit")
        after = (await client.get(f"{bot.health_url}/metrics")).text
        ready = await client.get(f"{bot.health_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert "videobot_jobs_delivered 1.0" in after and "videobot_jobs_submitted 1.0" in after
    assert 'videobot_jobs{state="delivered"} 1.0' in after
    assert 'videobot_perf_calls_total{endpoint="create",outcome="202"} 1.0' in after
    assert re.search(r'videobot_slack_calls_total\{method="chat.postMessage",outcome="ok"\} [1-9]', after)
    assert "videobot_delivery_lag_seconds_count 1.0" in after
    assert re.search(r'videobot_cost_today_usd\{channel="C0DESIGN"\} 0\.4', after)
    await bot.terminate()


async def test_json_logs_are_one_object_per_line_with_the_job_id(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    bot = await start({**env, "VIDEOBOT_LOG_FORMAT": "json"}, tmp_path)
    await command(bot, "A lighthouse")
    await wait_for(lambda: any(f.shares for f in fake_slack.files.values()), what="the video")
    await bot.terminate()
    entries = [json.loads(line) for line in bot.output if line.startswith("{")]
    # Every line is one, but the two that say where the bot listens (for supervisors, on stdout).
    said = ("videobot listening on port ", "videobot health on port ")
    assert len(entries) == len([line for line in bot.output if not line.startswith(said)])
    delivered = [e for e in entries if e.get("event") == "delivered"]
    assert len(delivered) == 1 and delivered[0]["job"].startswith("vb_") and delivered[0]["level"] == "INFO"


def check_page() -> str:
    return (Path(__file__).resolve().parents[1] / "docs" / "setup" / "check.md").read_text()


async def test_the_docs_show_what_check_really_prints(env: dict[str, str], tmp_path: Path) -> None:
    """docs/setup/check.md shows `videobot check`'s lines as they are, schema version included; only what
    differs between machines (the team, Perf's URL, the database's name) is left out of the comparison."""
    shown = re.search(r"```sh\nvideobot check\n```\n\n```text\n(.*?)```", check_page(), re.DOTALL)
    assert shown is not None, "docs/setup/check.md no longer shows what `videobot check` prints"
    code, out, _ = await videobot({**env, "SLACK_APP_TOKEN": APP_TOKEN}, tmp_path, "check")
    assert code == 0, out

    def machine_free(text: str) -> list[str]:
        text = re.sub(r"in team \w+", "in team T…", text)
        text = re.sub(r"accepted by \S+", "accepted by PERF", text)
        text = re.sub(r"database: .*?: schema", "database: DB: schema", text)
        return text.strip().splitlines()

    assert machine_free(shown.group(1)) == machine_free(out)
    assert f"schema version {len(MIGRATIONS)} of {len(MIGRATIONS)}" in shown.group(1)


@pytest.mark.parametrize("command", ["run", "migrate", "jobs"])
async def test_an_unreachable_database_is_one_clear_line_without_its_password(
    env: dict[str, str], tmp_path: Path, command: str
) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = {**env, "DATABASE_URL": f"postgresql://videobot:hunter2@127.0.0.1:{port}/videobot"}
    code, out, err = await videobot(unreachable, tmp_path, command)
    assert code == 1
    assert f"cannot open postgresql videobot@127.0.0.1:{port}/videobot" in err
    assert "is PostgreSQL running there" in err
    assert "Traceback" not in out + err and "hunter2" not in out + err
