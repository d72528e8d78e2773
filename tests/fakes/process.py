"""How tests, the demo and the soak run `videobot run` against the fakes: command line, environment, process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.slack import BOT_TOKEN, FakeSlack

SIGNING_SECRET = "test-signing-secret-5f2a9c"
# Ticks and polls in tenths of a second: subprocess tests see a job through in a second or two.
FAST_POLLING = {
    "VIDEOBOT_POLL_TICK_SECONDS": "0.1",
    "VIDEOBOT_POLL_MIN_SECONDS": "0.1",
    "VIDEOBOT_POLL_MAX_SECONDS": "0.5",
}


def videobot_command(*args: str) -> list[str]:
    """The installed `videobot run` (or other sub-command), or the module when the script is not installed."""
    script = Path(sys.executable).parent / "videobot"
    arguments = list(args) or ["run"]
    return [str(script), *arguments] if script.exists() else [sys.executable, "-m", "bot.runtime.cli", *arguments]


def bot_environment(slack: FakeSlack, perf: FakePerf, database: Path | str, **overrides: str) -> dict[str, str]:
    """This process's environment minus any real Slack/Perf/videobot settings, pointed at the fakes.

    `database` is a DATABASE_URL, or the path of a SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PERF_", "VIDEOBOT_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "PERF_API_KEY": API_KEY,
            "PERF_API_URL": perf.api_url,
            "SLACK_API_URL": slack.base_url + "/api/",
            "DATABASE_URL": database if isinstance(database, str) else f"sqlite:///{database}",
            "VIDEOBOT_MEDIA_HOSTS": perf.media_host,
            "HOST": "127.0.0.1",
            "PORT": "0",
            "VIDEOBOT_HEALTH_ADDRESS": "127.0.0.1:0",
        }
    )
    env.update(overrides)
    return env


async def wait_for(condition: Callable[[], bool], within: float = 20.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail after `within` seconds. Never a fixed sleep."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class BotProcess:
    def __init__(self, env: dict[str, str], cwd: Path, command: list[str] | None = None) -> None:
        """`command` defaults to `videobot run`; anything that prints "videobot listening on port N" works.

        `videobot run` prints "videobot health on port N" first, then that line (HTTP mode) or "videobot
        connected over Socket Mode"."""
        self.command = command or videobot_command()
        self.env = env
        self.cwd = cwd
        self.output: list[str] = []
        self.port = 0
        self.health_port = 0
        self.socket_mode = False
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        await wait_for(lambda: self.ready or self.returncode is not None, what="the bot to listen")
        assert self.ready, "\n".join(self.output)

    @property
    def ready(self) -> bool:
        return self.port != 0 or self.socket_mode

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if found := re.match(r"videobot listening on port (\d+)", line):
                self.port = int(found.group(1))
            elif found := re.match(r"videobot health on port (\d+)", line):
                self.health_port = int(found.group(1))
            elif line == "videobot connected over Socket Mode":
                self.socket_mode = True

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def url(self) -> str:
        """Slack's port (HTTP mode only)."""
        assert self.port, "no port for Slack's requests: the bot runs in Socket Mode"
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        """/healthz with its details, /readyz and /metrics."""
        assert self.health_port, "the bot printed no health port"
        return f"http://127.0.0.1:{self.health_port}"

    async def kill(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        if self._reader:
            await self._reader

    def send_signal(self, sig: int) -> None:
        assert self._proc is not None
        self._proc.send_signal(sig)

    async def wait(self, within: float = 15.0) -> int:
        """The exit status, once the process has ended; fails if it has not within `within` seconds."""
        assert self._proc is not None
        try:
            await asyncio.wait_for(self._proc.wait(), within)
        except TimeoutError:
            raise AssertionError(f"the bot was still running {within:g} s later:\n{self.log_text()}") from None
        if self._reader:
            await self._reader
        return self._proc.returncode or 0

    async def terminate(self) -> int:
        assert self._proc is not None
        if self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self._proc.wait(), 15)
        if self._reader:
            await self._reader
        return self._proc.returncode or 0

    def log_text(self) -> str:
        return "\n".join(self.output)
