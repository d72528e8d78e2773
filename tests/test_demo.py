"""docs/start/demo.md, "Try it without Slack or Perf": the demo runs the real `videobot run` against the fakes,
including a remix submitted through its form, as a new user would follow it."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.fakes.demo import demo, parse_steps


def test_the_steps_are_read_in_order_with_presses_and_remixes_between_commands() -> None:
    steps = parse_steps(
        ["A lighthouse", "--draft", "--press", "full version", "--remix", "duration=4", "--then", "show", "{job}"]
    )
    assert steps == [
        ("command", "A lighthouse --draft"),
        ("press", "full version"),
        ("remix", "duration=4"),
        ("command", "show {job}"),
    ]
    assert parse_steps(["A glacier", "--remix", ""]) == [("command", "A glacier"), ("remix", "")]


async def test_the_demo_remixes_through_the_form_and_shows_the_newest_job(capsys: pytest.CaptureFixture[str]) -> None:
    steps = parse_steps(
        [
            'defaults --style "soft light"',
            "--then",
            "A lighthouse --model veo-3",
            "--remix",
            "duration=3 model=pika",
            "--then",
            "show {job}",
        ]
    )
    assert await demo(steps) == 0
    out = capsys.readouterr().out
    assert "✅ This channel's defaults are set." in out  # alice is an admin in the demo
    assert "bob presses “Remix”, changes duration=3 model=pika and presses “Make it”" in out
    assert "🎛 Remix of <https://acme.slack.com/archives/C0DESIGN/p" in out
    assert "pika · 3 s · 1080p · 16:9 · est. $0.20 · job vb_" in out
    assert "sending: /video show vb_" in out and "{job}" not in out.split("sending: /video show")[1]
    assert (
        "#design  videobot (the command's answer): 🎬 Video for <@UBOB0002> — “A lighthouse” + style: soft light" in out
    )
    assert "INFO videobot" not in out  # the bot's log is kept apart


def test_the_demos_help_describes_the_demo_and_starts_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes import demo as demo_module

    monkeypatch.setattr("sys.argv", ["demo", "--help"])
    assert demo_module.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m tests.fakes.demo")
    assert "without Slack or Perf" in out and "pip install -e '.[test]'" in out and "--remix" in out
    assert "videobot is up" not in out and "sending:" not in out


DEMO_PAGE = Path(__file__).resolve().parents[1] / "docs" / "start" / "demo.md"


def shown_demos() -> list[tuple[list[str], list[str]]]:
    """(the demo's arguments, the lines the page shows it printing) for each run on docs/start/demo.md."""
    runs = []
    for body in re.findall(r"```console\n(.*?)```", DEMO_PAGE.read_text(), re.DOTALL):
        command, _, output = body.replace("\\\n", " ").partition("\n")
        words = shlex.split(command.removeprefix("$ "))
        assert words[:3] == ["python", "-m", "tests.fakes.demo"], command
        runs.append((words[3:], [line for line in output.splitlines() if line.strip()]))
    return runs


def machine_free(line: str) -> str:
    """What differs from run to run: job ids, the port, and seconds taken."""
    line = re.sub(r"\bvb_[a-z0-9]{10}\b", "vb_…", line)
    line = re.sub(r"port \d+", "port N", line)
    return re.sub(r"\bin \d+ s\b", "in N s", line)


def unmatched(shown: list[str], printed: list[str]) -> list[str]:
    """The page's lines not printed, in order; a line ending in … stands for any line that starts the same."""
    printed = [machine_free(line) for line in printed]
    missing, at = [], 0
    for line in map(machine_free, shown):
        if line.strip() == "…":
            continue
        prefix = line[:-1] if line.endswith("…") else None
        found = next(
            (i for i in range(at, len(printed)) if printed[i] == line or (prefix and printed[i].startswith(prefix))),
            None,
        )
        if found is None:
            missing.append(line)
        else:
            at = found + 1
    return missing


async def run_demo(args: list[str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.demo",
        *args,
        cwd=DEMO_PAGE.parents[2],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, out.decode()
    return out.decode()


def test_the_output_check_notices_a_line_the_demo_did_not_print() -> None:
    printed = ["videobot is up on port 4242", "   └ thread: ✅ Done in 12 s · $0.40", "(only you see) ✅ Removed"]
    assert unmatched(["videobot is up on port 1", "   └ thread: …", "(only you see) ✅ Removed"], printed) == []
    assert unmatched(["   └ thread: ✅ Done in 11 s · $0.80"], printed) == ["   └ thread: ✅ Done in N s · $0.80"]
    assert unmatched(["(only you see) ✅ Removed", "videobot is up on port 1"], printed) == ["videobot is up on port N"]


async def test_the_demo_page_shows_what_the_demo_prints() -> None:
    """Every run on docs/start/demo.md, run as the page says (together, to save time), prints what it shows."""
    runs = shown_demos()
    assert len(runs) >= 3
    outputs = await asyncio.gather(*(run_demo(args) for args, _ in runs))
    for (args, shown), out in zip(runs, outputs, strict=True):
        assert unmatched(shown, out.splitlines()) == [], f"{args}\n{out}"
