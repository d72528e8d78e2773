"""Try videobot on this machine without Slack or Perf: `python -m tests.fakes.demo "A lighthouse --model veo-3"`.

Starts the fakes of Slack and Perf on 127.0.0.1, runs `videobot run` against them with a throwaway
database, sends it a signed `/video` command over HTTP exactly as Slack would, and prints what people
in the channel would see once the video is in the thread.

Several steps run in turn, each once the one before has finished: `--then` starts another command, and
`--press LABEL` presses the button whose label contains LABEL on the newest message that has one, as
bob would (`demo "A lighthouse --draft" --press "full version"`).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import button_click_body, signed_headers, slash_command_body
from tests.fakes.jobs import CHANNEL
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment, videobot_command
from tests.fakes.slack import FakeMessage, FakeSlack

Step = tuple[str, str]  # ("command", its text) or ("press", a button's label)


def parse_steps(args: list[str]) -> list[Step]:
    steps: list[Step] = [("command", "")]
    words = iter(args)
    for word in words:
        if word == "--then":
            steps.append(("command", ""))
        elif word == "--press":
            steps.append(("press", next(words, "")))
            steps.append(("command", ""))
        else:
            kind, text = steps[-1]
            steps[-1] = (kind, f"{text} {word}".strip())
    return [step for step in steps if step[1]]


def _click(slack: FakeSlack, label: str) -> str | None:
    """The signed body of a click on the newest message's button labelled `label`, if there is one."""
    for root in reversed(slack.roots(CHANNEL)):
        for block in root.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if label.lower() in element["text"]["text"].lower():
                    action_ts = f"{time.time():.6f}"
                    return button_click_body(
                        root.ts, element["value"], action_id=element["action_id"], action_ts=action_ts
                    )
    return None


async def _send(client: httpx.AsyncClient, port: int, slack: FakeSlack, step: Step) -> httpx.Response | None:
    kind, text = step
    if kind == "press":
        body = _click(slack, text)
        if body is None:
            print(f"(no button labelled “{text}” to press)")
            return None
        print(f"bob presses “{text}”")
    else:
        print(f"sending: /video {text}")
        body = slash_command_body(text, response_url=slack.response_url())
    return await client.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed_headers(body))


def _root_lines(root: FakeMessage) -> list[str]:
    """The root's lines under its headline that say what kind of job it is (a draft, a rerun), and its buttons."""
    lines = []
    for block in root.blocks:
        elements = block.get("elements", [])
        if block.get("type") == "context" and elements[0]["text"].startswith(("✏️", "⏩", "🔁 Another")):
            lines.append(elements[0]["text"])
        elif block.get("type") == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in elements))
    return lines


def _all_ended(slack: FakeSlack) -> bool:
    roots = slack.roots(CHANNEL)
    return bool(roots) and all(any(word in root.text for word in ("✅", "❌", "⚠️")) for root in roots)


async def demo(text: str | list[Step]) -> int:
    steps = [("command", text)] if isinstance(text, str) else text
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
        print(f"videobot is up on port {port}")
        async with httpx.AsyncClient() as client:
            for step in steps:
                roots_before, responses_before = len(slack.roots(CHANNEL)), len(slack.responses)
                answer = await _send(client, port, slack, step)
                if answer is not None and answer.text:
                    print("(only you see)", answer.json().get("text", answer.text))
                deadline = time.monotonic() + 60
                while answer is not None and time.monotonic() < deadline:
                    started = len(slack.roots(CHANNEL)) > roots_before
                    if (started and _all_ended(slack)) or len(slack.responses) > responses_before:
                        break
                    if not started and time.monotonic() > deadline - 57:  # nothing was started by it
                        break
                    await asyncio.sleep(0.2)
        bot.terminate()
        await bot.wait()
        for root in slack.roots(CHANNEL):
            print("\n#design  videobot:", root.text)
            for line in _root_lines(root):
                print("          ", line)
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
    steps = parse_steps(sys.argv[1:]) or [
        ("command", "A lighthouse in a storm, waves crashing --model veo-3 --duration 8 --ar 9:16")
    ]
    return asyncio.run(demo(steps))


if __name__ == "__main__":
    sys.exit(main())
