"""Try videobot on this machine without Slack or Perf: `python -m tests.fakes.demo "A lighthouse --model veo-3"`.

Starts the fakes of Slack and Perf on 127.0.0.1, runs `videobot run` against them with a throwaway
database, sends it a signed `/video` command over HTTP exactly as Slack would, and prints what people
in the channel would see once the video is in the thread.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import signed_headers, slash_command_body
from tests.fakes.jobs import CHANNEL
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment, videobot_command
from tests.fakes.slack import FakeSlack


async def demo(text: str) -> int:
    slack, perf = FakeSlack(), FakePerf()
    await slack.start()
    await perf.start()
    with tempfile.TemporaryDirectory() as tmp:
        env = bot_environment(slack, perf, Path(tmp) / "demo.db", VIDEOBOT_POLL_MIN_SECONDS="0.5")
        command = videobot_command()
        bot = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp, stdout=asyncio.subprocess.PIPE)
        assert bot.stdout is not None
        line = (await asyncio.wait_for(bot.stdout.readline(), 30)).decode()
        if not line.startswith("videobot listening on port "):
            print("videobot did not start:", line)
            return 1
        port = int(line.rsplit(" ", 1)[1])
        print(f"videobot is up on port {port}; sending: /video {text}")
        body = slash_command_body(text, response_url=slack.response_url())
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed_headers(body)
            )
        if answer.text:
            print("(only you see)", answer.json().get("text", answer.text))
        deadline = time.monotonic() + (0 if answer.text else 60)
        while time.monotonic() < deadline:
            roots = slack.roots(CHANNEL)
            if (roots and any(word in roots[0].text for word in ("✅", "❌", "⚠️"))) or slack.responses:
                break
            await asyncio.sleep(0.2)
        bot.terminate()
        await bot.wait()
        for root in slack.roots(CHANNEL):
            print("\n#design  videobot:", root.text)
            for reply in slack.thread(CHANNEL, root.ts):
                print("   └ thread:", reply.text)
            for file in slack.files_in_thread(CHANNEL, root.ts):
                print(f"   └ thread: [{file.filename}] {file.title} ({file.received:,} bytes uploaded)")
        for _, response in slack.responses:
            print("(only you see)", response.get("text"))
    await slack.stop()
    await perf.stop()
    return 0


def main() -> int:
    text = " ".join(sys.argv[1:]) or "A lighthouse in a storm, waves crashing --model veo-3 --duration 8 --ar 9:16"
    return asyncio.run(demo(text))


if __name__ == "__main__":
    sys.exit(main())
