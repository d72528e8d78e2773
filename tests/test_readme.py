"""The README tells the truth: CI runs its test command, and every setting the bot reads is documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", readme(), re.DOTALL)
    install_and_run, run_tests = blocks[0].strip(), blocks[1].strip()
    assert install_and_run.endswith("videobot run")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert run_tests in ci_lines


def documentation() -> str:
    """The README and the pages under docs/, where settings of a topic may be listed instead."""
    return "\n".join([readme(), *(page.read_text() for page in sorted((ROOT / "docs").rglob("*.md")))])


def test_every_setting_read_by_the_config_is_documented() -> None:
    source = (ROOT / "bot" / "runtime" / "config.py").read_text()
    names = set(re.findall(r'(?:get|required)\("([A-Z_]+)"', source))
    assert len(names) >= 15
    documented = documentation()
    undocumented = sorted(name for name in names if f"| `{name}` |" not in documented)
    assert undocumented == []
