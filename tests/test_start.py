"""Starting and stopping `videobot run` as a new user meets it: a token Slack refuses is one line naming it and
an exit, SIGTERM stops the bot in every state, and `videobot check` catches a wrong app token first."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from bot.runtime.cli import main
from tests.fakes.perf import FakePerf
from tests.fakes.process import FAST_POLLING, BotProcess, bot_environment, videobot_command, wait_for
from tests.fakes.slack import APP_TOKEN, FakeSlack


@pytest.fixture
def env(fake_slack: FakeSlack, fake_perf: FakePerf, tmp_path: Path) -> dict[str, str]:
    # A SQLite file of this test's own: whether the start created it is part of what is checked.
    return bot_environment(fake_slack, fake_perf, tmp_path / "data" / "videobot.db", **FAST_POLLING)


async def run_to_the_end(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *videobot_command(*args), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"`videobot {' '.join(args)}` was still running after 30 s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1-A0MADEUP-0000-not-a-real-token", "SLACK_SIGNING_SECRET": ""}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-0000-0000-revoked"}, "SLACK_BOT_TOKEN"),
    ],
)
async def test_a_token_slack_refuses_stops_the_start_with_one_line_naming_it(
    env: dict[str, str], tmp_path: Path, change: dict[str, str], setting: str
) -> None:
    code, out, err = await run_to_the_end({**env, **change}, tmp_path, "run")
    assert code == 1
    said = [line for line in err.splitlines() if line.startswith("videobot: ")]
    assert said and said[0].startswith(f"videobot: Slack refused {setting} (invalid_auth)"), err
    assert "Traceback" not in out + err and change[setting] not in out + err
    assert not (tmp_path / "data" / "videobot.db").exists(), "nothing is created for a start that cannot work"


async def test_sigterm_stops_a_bot_still_connecting_to_socket_mode(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with socket.socket() as probe:  # an address nothing listens on: the Socket Mode client keeps retrying
        probe.bind(("127.0.0.1", 0))
        fake_slack.socket_url = f"ws://127.0.0.1:{probe.getsockname()[1]}/socket"
    bot = BotProcess({**env, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}, tmp_path)
    starting = asyncio.create_task(bot.start())
    # The check before the start, then the Socket Mode client's own request for an address.
    await wait_for(lambda: fake_slack.call_count("apps.connections.open") >= 2, what="the client connecting")
    assert bot.returncode is None and bot.port == 0, "still connecting"
    code = await bot.terminate()  # fails if the bot is not gone within BotProcess.terminate's deadline
    with pytest.raises(AssertionError):
        await starting  # it never listened
    assert code == 0, bot.log_text()
    assert "event=stopped_while_starting" in bot.log_text()


async def test_sigterm_and_ctrl_c_stop_a_running_socket_mode_bot(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        bot = BotProcess({**env, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}, tmp_path)
        await bot.start()
        await wait_for(lambda: any(not s.closed for s in fake_slack.sockets), what="the websocket")
        bot.send_signal(sig)
        assert await bot.wait() == 0, bot.log_text()
        assert "event=stopped" in bot.log_text()


async def test_check_tries_the_app_token_in_socket_mode(env: dict[str, str], tmp_path: Path) -> None:
    socket_mode = {**env, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}
    code, out, _ = await run_to_the_end(socket_mode, tmp_path, "check")
    assert code == 0, out
    assert any(line.startswith("ok   slack socket mode: apps.connections.open ok") for line in out.splitlines()), out

    made_up = {**socket_mode, "SLACK_APP_TOKEN": "xapp-1-A0MADEUP-0000-not-a-real-token"}
    code, out, _ = await run_to_the_end(made_up, tmp_path, "check")
    assert code == 1
    assert any(
        line.startswith("FAIL slack socket mode: Slack refused SLACK_APP_TOKEN (invalid_auth)")
        for line in out.splitlines()
    ), out
    assert "A0MADEUP" not in out


# --- the command line ------------------------------------------------------------------------------


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"videobot {metadata.version('videobot')}"


def test_every_sub_command_has_a_description_in_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    names = re.findall(r"^    (\w+)\s+\S", listed, re.MULTILINE)
    assert {"run", "check", "migrate", "jobs", "export", "backup", "vacuum"} <= set(names), listed
    for name in names:
        arguments = ["job_1"] if name in ("job", "retry", "cancel") else ["copy.db"] if name == "backup" else []
        with pytest.raises(SystemExit) as exited:
            main([name, "--help", *arguments])
        assert exited.value.code == 0
        text = capsys.readouterr().out
        description = text.split("\n\n")[1].strip()
        assert not description.startswith(("positional arguments", "options")), f"`videobot {name} --help`: {text}"
        assert len(description) > 20 and description[0].isupper(), text


@pytest.mark.parametrize(
    "arguments",
    [
        ["migrate"],
        ["jobs"],
        ["job", "vb_none"],
        ["export", "--format", "json"],
        ["vacuum"],
        ["retry", "vb_none"],
        ["cancel", "vb_none"],
        ["backup", "copy.db"],
    ],
)
def test_database_commands_need_only_database_url(
    arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith(("SLACK_", "PERF_", "VIDEOBOT_", "DATABASE_URL"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'videobot.db'}")
    assert main(["migrate"]) == 0
    capsys.readouterr()
    code = main(arguments)
    said = capsys.readouterr()
    assert "configuration" not in said.out + said.err, said
    if arguments[-1] == "vb_none":
        assert (code, said.err.strip()) == (1, "videobot: no job vb_none")
    else:
        assert code == 0, said


@pytest.mark.parametrize(
    "arguments",
    [
        ["jobs"],
        ["job", "vb_none"],
        ["export"],
        ["vacuum"],
        ["retry", "vb_none"],
        ["cancel", "vb_none"],
        ["backup", "copy.db"],
    ],
)
def test_a_database_command_on_a_sqlite_file_that_is_not_there_says_so_and_creates_nothing(
    arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mistyped path: `export` created an empty database and said "exported 0 jobs"; `backup` left an empty
    # copy behind after a traceback.
    for name in [n for n in os.environ if n.startswith(("SLACK_", "PERF_", "VIDEOBOT_", "DATABASE_URL"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "mistyped" / "videobot.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert main(arguments) == 1
    said = capsys.readouterr()
    assert said.err.startswith(f"videobot: no database at {missing} (DATABASE_URL): "), said
    assert "Traceback" not in said.err and said.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "neither the database nor a copy was made"


# --- .env.example ----------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def example_settings() -> dict[str, str]:
    from dotenv import dotenv_values

    return {name: value for name, value in dotenv_values(EXAMPLE).items() if value is not None}


def test_the_example_holds_what_a_first_run_needs_and_nothing_unknown() -> None:
    settings = example_settings()
    # No DATABASE_URL: the default is the same file, and a value here would win over the Docker image's
    # /data/videobot.db under `docker run --env-file .env`, off the volume (in a directory it cannot write).
    assert set(settings) == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "PERF_API_KEY"}
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.isascii(), "a pasted typographic character would end up in someone's .env"
    assert "# SLACK_SIGNING_SECRET=" in text, "HTTP mode's setting is shown, commented out"
    assert "# DATABASE_URL=postgresql://" in text, "and PostgreSQL's"


async def test_check_with_the_example_unchanged_names_each_placeholder_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PERF_", "VIDEOBOT_", "DATABASE_"))}
    code, out, err = await run_to_the_end(env, tmp_path, "check")
    assert code == 2
    lines = out.splitlines()
    names = ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "PERF_API_KEY"]
    assert len(lines) == len(names), out + err
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(f"FAIL configuration: {name} is still a placeholder from an example: set it to ")
    assert not (tmp_path / "videobot.db").exists(), "nothing is created before the settings are right"
    code, _, err = await run_to_the_end(env, tmp_path, "run")
    assert code == 2 and len(err.splitlines()) == 3 and "Traceback" not in err
    assert all(line.startswith("videobot: configuration error: ") for line in err.splitlines())
    assert not (tmp_path / "videobot.db").exists()


async def test_an_app_token_revoked_while_the_bot_runs_stops_it_with_one_line(
    env: dict[str, str], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    bot = BotProcess({**env, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}, tmp_path)
    await bot.start()
    await wait_for(lambda: any(not s.closed for s in fake_slack.sockets), what="the websocket")
    fake_slack.app_token = "xapp-1-the-new-one"  # the old token is revoked, and Slack drops the connection
    for connection in fake_slack.sockets:
        await connection.close()
    # Slack's client notices a dropped connection on its next check, ten seconds at most.
    assert await bot.wait(within=40) == 1
    said = [line for line in bot.output if line.startswith("videobot: ")]
    assert said == [
        "videobot: Slack refused SLACK_APP_TOKEN (invalid_auth) while the bot ran: copy the app-level token "
        "(xapp-…) again from Basic Information → App-Level Tokens, or make a new one with the connections:write scope"
    ], bot.log_text()
    assert "event=stopping" in bot.log_text() and "Traceback" not in bot.log_text()
