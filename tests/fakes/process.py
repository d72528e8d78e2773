"""How tests and the demo start `videobot run` against the fakes: its command line and environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.fakes.perf import API_KEY, FakePerf
from tests.fakes.slack import BOT_TOKEN, FakeSlack

SIGNING_SECRET = "test-signing-secret-5f2a9c"


def videobot_command() -> list[str]:
    """The installed `videobot run`, or the module when the console script is not installed."""
    script = Path(sys.executable).parent / "videobot"
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]


def bot_environment(slack: FakeSlack, perf: FakePerf, database: Path, **overrides: str) -> dict[str, str]:
    """This process's environment minus any real Slack/Perf/videobot settings, pointed at the fakes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PERF_", "VIDEOBOT_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "PERF_API_KEY": API_KEY,
            "PERF_API_URL": perf.api_url,
            "SLACK_API_URL": slack.base_url + "/api/",
            "DATABASE_URL": f"sqlite:///{database}",
            "VIDEOBOT_MEDIA_HOSTS": perf.media_host,
            "HOST": "127.0.0.1",
            "PORT": "0",
        }
    )
    env.update(overrides)
    return env
