"""The README's "Try it without Slack or Perf": the demo runs the real `videobot run` against the fakes,
including a remix submitted through its form, as a new user would follow it."""

from __future__ import annotations

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
