"""Try videobot on this machine without Slack or Perf: `python -m tests.fakes.demo "A lighthouse --model veo-3"`.

Starts the fakes of Slack and Perf on 127.0.0.1, runs `videobot run` against them with a throwaway
database, sends it a signed `/video` command over HTTP exactly as Slack would, and prints what people
in the channel would see once the video is in the thread.

Several steps run in turn, each once the one before has finished: `--then` starts another command, and
`--press LABEL` presses the button whose label contains LABEL on the newest message that has one, as
bob would (`demo "A lighthouse --draft" --press "full version"`). `--remix "duration=4 model=pika"` has
bob press *Remix* on the newest message and submit the form it opens with those fields changed (prompt,
model, duration, aspect, resolution). In a command, `{job}` stands for the newest job's id
(`--then "show {job}"`). alice, who types the commands, is a workspace admin; bob is not.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import button_click_body, signed_headers, slash_command_body, view_submission_body
from tests.fakes.jobs import CHANNEL, USER
from tests.fakes.perf import FakePerf
from tests.fakes.process import bot_environment, videobot_command
from tests.fakes.slack import FakeMessage, FakeSlack

USAGE = f"""usage: python -m tests.fakes.demo [COMMAND] [--then COMMAND | --press LABEL | --remix "FIELD=VALUE …"]…

{__doc__}
Run it from the repository's root; it needs only `pip install -e '.[test]'` (no Slack workspace, no Perf
key, no network), not the test suite. The fake Perf takes about 11 s a job and charges a flat $0.40.
Without a COMMAND it makes the README's lighthouse.

examples:
  python -m tests.fakes.demo "A lighthouse in a storm --model veo-3 --duration 8 --ar 9:16"
  python -m tests.fakes.demo "A lighthouse --draft" --press "full version" --remix "duration=4 model=pika"
  python -m tests.fakes.demo 'defaults me --model pika' --then "A heron" --then "history heron"
"""

Step = tuple[str, str]  # ("command", its text), ("press", a button's label) or ("remix", the fields changed)


def parse_steps(args: list[str]) -> list[Step]:
    steps: list[Step] = [("command", "")]
    words = iter(args)
    for word in words:
        if word == "--then":
            steps.append(("command", ""))
        elif word in ("--press", "--remix"):
            steps.append((word.removeprefix("--"), next(words, "")))
            steps.append(("command", ""))
        else:
            kind, text = steps[-1]
            steps[-1] = (kind, f"{text} {word}".strip())
    return [step for step in steps if step[1] or step[0] == "remix"]


def _button(slack: FakeSlack, label: str) -> tuple[FakeMessage, dict[str, Any]] | None:
    """The newest message's button labelled `label`, if there is one."""
    for root in reversed(slack.roots(CHANNEL)):
        for block in root.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if label.lower() in element["text"]["text"].lower():
                    return root, element
    return None


def _click(slack: FakeSlack, label: str) -> str | None:
    """The signed body of a click on the newest message's button labelled `label`, if there is one."""
    found = _button(slack, label)
    if found is None:
        return None
    root, element = found
    action_ts = f"{time.time():.6f}"
    return button_click_body(root.ts, element["value"], action_id=element["action_id"], action_ts=action_ts)


def _newest_job_id(slack: FakeSlack) -> str:
    for message in reversed(slack.messages):
        if found := re.search(r"\bjob (vb_[a-z0-9]+)", message.all_text()):
            return found.group(1)
    return "{job}"


async def _post(client: httpx.AsyncClient, port: int, body: str) -> httpx.Response:
    return await client.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed_headers(body))


async def _remix(client: httpx.AsyncClient, port: int, slack: FakeSlack, changes: str) -> httpx.Response | None:
    """bob presses Remix on the newest message, changes the form's fields, and presses Make it."""
    body = _click(slack, "remix")
    if body is None:
        print("(no Remix button to press)")
        return None
    opened = len(slack.views)
    await _post(client, port, body)
    if len(slack.views) == opened:
        print("(the Remix form did not open)")
        return None
    view_id = max(slack.views)
    fields = dict(change.split("=", 1) for change in shlex.split(changes))
    print(f"bob presses “Remix”, changes {changes or 'nothing'} and presses “Make it”")
    return await _post(client, port, view_submission_body(view_id, slack.views[view_id], **fields))


async def _send(client: httpx.AsyncClient, port: int, slack: FakeSlack, step: Step) -> httpx.Response | None:
    kind, text = step
    if kind == "remix":
        return await _remix(client, port, slack, text)
    if kind == "press":
        body = _click(slack, text)
        if body is None:
            print(f"(no button labelled “{text}” to press)")
            return None
        print(f"bob presses “{text}”")
    else:
        text = text.replace("{job}", _newest_job_id(slack))
        print(f"sending: /video {text}")
        body = slash_command_body(text, response_url=slack.response_url())
    return await _post(client, port, body)


def _print_answer(answer: httpx.Response) -> None:
    """The command's own answer: privately to alice, or in the channel (`/video show`); a form's errors."""
    reply = answer.json()
    if "errors" in reply:
        print("(on the form)", reply["errors"])
    elif reply.get("response_type") == "in_channel":
        print("#design  videobot (the command's answer):", reply.get("text"))
    else:
        print("(only you see)", reply.get("text", answer.text))


def _root_lines(root: FakeMessage) -> list[str]:
    """The root's lines under its headline that say what kind of job it is (a draft, a rerun, a remix), its
    settings and id, and its buttons."""
    lines = []
    for block in root.blocks:
        first = (block.get("elements") or [{}])[0].get("text")
        if block.get("type") == "context" and isinstance(first, str):
            if first.startswith(("✏️", "⏩", "🔁 Another", "🎛")) or " · job " in first:
                lines.append(first)
        elif block.get("type") == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"]))
    return lines


def _all_ended(slack: FakeSlack) -> bool:
    roots = slack.roots(CHANNEL)
    return bool(roots) and all(any(word in root.text for word in ("✅", "❌", "⚠️")) for root in roots)


async def demo(text: str | list[Step]) -> int:
    steps = [("command", text)] if isinstance(text, str) else text
    slack, perf = FakeSlack(), FakePerf()
    slack.add_user(USER, is_admin=True)  # so alice may set the channel's defaults
    await slack.start()
    await perf.start()
    with tempfile.TemporaryDirectory() as tmp:
        env = bot_environment(slack, perf, Path(tmp) / "demo.db", VIDEOBOT_POLL_MIN_SECONDS="0.5")
        command = videobot_command()
        # The bot's log would bury what people see; it is shown only if the bot does not start.
        log = (Path(tmp) / "videobot.log").open("w")
        bot = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=tmp, stdout=asyncio.subprocess.PIPE, stderr=log
        )
        assert bot.stdout is not None
        line = (await asyncio.wait_for(bot.stdout.readline(), 30)).decode()
        if line.startswith("videobot health on port "):  # printed first; Slack's port follows
            line = (await asyncio.wait_for(bot.stdout.readline(), 30)).decode()
        if not line.startswith("videobot listening on port "):
            print("videobot did not start:", line, (Path(tmp) / "videobot.log").read_text())
            return 1
        port = int(line.rsplit(" ", 1)[1])
        print(f"videobot is up on port {port}")
        async with httpx.AsyncClient() as client:
            for step in steps:
                roots_before, responses_before = len(slack.roots(CHANNEL)), len(slack.responses)
                answer = await _send(client, port, slack, step)
                if answer is not None and answer.text:
                    _print_answer(answer)
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
        log.close()
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
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    steps = parse_steps(sys.argv[1:]) or [
        ("command", "A lighthouse in a storm, waves crashing --model veo-3 --duration 8 --ar 9:16")
    ]
    return asyncio.run(demo(steps))


if __name__ == "__main__":
    sys.exit(main())
