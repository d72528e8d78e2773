"""The documentation tells the truth: every page is in the site's nav, the configuration page lists what the
code reads (names, defaults, ranges), and every shell command shown is one the command it names accepts.

What the commands print is checked where they run: `videobot check` in tests/test_ops.py, the demo in
tests/test_demo.py. `mkdocs build --strict` (in .ci/run) checks the links and anchors.
"""

from __future__ import annotations

import argparse
import re
import runpy
import shlex
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.runtime import cli
from tests.docs_settings import settings_in_code
from tests.fakes.demo import parse_steps

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def nav_pages(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    nav = list(nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]))
    in_docs = {str(page.relative_to(DOCS)) for page in pages()}
    assert sorted(in_docs - set(nav)) == [], "pages no reader can reach from the nav"
    assert sorted(set(nav) - in_docs) == [], "nav entries without a page"
    assert len(nav) == len(set(nav))


def test_ci_builds_the_site_strictly_with_the_theme_the_test_extras_install() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^[^#\n]*mkdocs build --strict", ci, re.MULTILINE)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert any(e.startswith("mkdocs-material") for e in extras) and any(e.startswith("mkdocs>") for e in extras)
    assert yaml.safe_load((ROOT / "mkdocs.yml").read_text())["theme"]["name"] == "material"


# --- one source for settings ------------------------------------------------------------------------------

Row = tuple[str, str, str]  # default, range, what it does


def documented_settings() -> dict[str, Row]:
    text = (DOCS / "configuration.md").read_text()
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (.*?) \| (.*?) \| (.*) \|$", text, re.MULTILINE)
    assert len(rows) == len({name for name, *_ in rows}), "a setting is listed twice"
    return {name: (default.strip(), range_.strip(), meaning.strip()) for name, default, range_, meaning in rows}


def test_every_setting_read_by_the_config_is_documented_and_nothing_else() -> None:
    code, docs = settings_in_code(), documented_settings()
    assert len(code) >= 30
    assert sorted(set(code) - set(docs)) == [], "read by bot/runtime/config.py but missing in docs/configuration.md"
    assert sorted(set(docs) - set(code)) == [], "in docs/configuration.md but not read by bot/runtime/config.py"


def test_each_settings_default_and_range_are_the_codes() -> None:
    docs = documented_settings()
    wrong = []
    for name, setting in settings_in_code().items():
        default, range_, meaning = docs[name]
        if setting.required:
            expected_default = default == "(required)"
        elif setting.default:
            expected_default = default == f"`{setting.default}`"
        else:  # no default: empty, or required only in one mode
            expected_default = default == "empty" or default.startswith("(required")
        if not expected_default:
            wrong.append(f"{name}: default {default!r}, the code's is {setting.default or '(none)'!r}")
        if setting.range and range_ != setting.range:
            wrong.append(f"{name}: range {range_!r}, the code's is {setting.range!r}")
        if not meaning:
            wrong.append(f"{name}: says nothing about what it does")
    assert wrong == []


def test_the_settings_reader_finds_what_config_really_uses() -> None:
    """The reader of config.py's source agrees with config.py itself, so the check above cannot pass idly."""
    from bot.runtime.config import load_settings

    code = settings_in_code()
    assert code["VIDEOBOT_DAILY_JOBS_PER_CHANNEL"].default == "20"
    assert code["VIDEOBOT_DAILY_JOBS_PER_CHANNEL"].range == "0–1000000"
    assert code["VIDEOBOT_JOB_TIMEOUT_MINUTES"].range == "0.01–1440"
    assert code["VIDEOBOT_LOG_FORMAT"].range == "`plain` or `json`"
    assert code["PERF_API_KEY"].required and code["SLACK_BOT_TOKEN"].required
    minimal = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "PERF_API_KEY": "pk_test_1"}
    settings = load_settings(minimal, dotenv_path=None)
    assert settings.daily_jobs_per_channel == int(code["VIDEOBOT_DAILY_JOBS_PER_CHANNEL"].default)
    assert settings.port == int(code["PORT"].default) and settings.perf_api_url == code["PERF_API_URL"].default


# --- every shell command shown --------------------------------------------------------------------------


def shown_commands() -> list[tuple[str, str]]:
    """(where, command) for each command in a ```sh block, and each `$ ` line of a ```console block, of the
    README and every page; continuation lines joined, comments dropped."""
    found = []
    for path in [ROOT / "README.md", *pages()]:
        where = str(path.relative_to(ROOT))
        for lang, body in re.findall(r"^ *```(sh|bash|console)\n(.*?)^ *```", path.read_text(), re.DOTALL | re.M):
            lines = [line.strip() for line in body.replace("\\\n", " ").splitlines()]
            if lang == "console":
                lines = [line[2:] for line in lines if line.startswith("$ ")]
            found += [(where, line) for line in lines if line and not line.startswith("#")]
    return found


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        self.namespace = namespace


def _parse_with_module(module: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """Run `python -m module args` up to its argument parsing, and stop there."""
    real = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, *a: Any, **k: Any) -> Any:
        raise _Parsed(real(self, *a, **k))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [module, *args])
    monkeypatch.delitem(sys.modules, module, raising=False)  # runpy runs it afresh, as `python -m` would
    try:
        runpy.run_module(module, run_name="__main__")
    except _Parsed as parsed:
        return parsed.namespace
    raise AssertionError(f"python -m {module} did not parse its arguments")


def _check(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    while argv and re.match(r"^[A-Z_]+=", argv[0]):  # DATABASE_URL=… videobot migrate
        argv = argv[1:]
    program, args = argv[0], argv[1:]
    if program == "videobot":
        try:
            cli._parser().parse_args(args)
        except SystemExit as exit:
            assert exit.code == 0, f"videobot rejects {args}"
    elif program in ("python", "python3") and args[:2] == ["-m", "venv"]:
        assert args == ["-m", "venv", ".venv"]
    elif program in (".", "source"):
        assert args == [".venv/bin/activate"]
    elif program == "pip":
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert args[:2] == ["install", "-e"] and re.fullmatch(r"\.(\[(\w+)\])?", args[2])
        extra = re.fullmatch(r"\.(?:\[(\w+)\])?", args[2])
        assert extra is not None and (extra.group(1) is None or extra.group(1) in extras)
    elif program in ("python", "python3") and args[:2] == ["-m", "pytest"]:
        assert all((ROOT / a.split("::")[0]).exists() for a in args[2:] if not a.startswith("-"))
    elif program in ("python", "python3") and args[:2] == ["-m", "tests.fakes.demo"]:
        steps = parse_steps(args[2:])
        assert steps and steps[0][0] == "command"
        fields = {"prompt", "model", "duration", "aspect", "resolution"}
        for kind, text in steps:
            if kind == "remix":
                assert {change.split("=", 1)[0] for change in shlex.split(text)} <= fields, text
    elif program in ("python", "python3") and args[:1] == ["-m"] and args[1].startswith("bench."):
        namespace = _parse_with_module(args[1], args[2:], monkeypatch)
        if args[1] == "bench.run":
            from bench.run import BENCHES, LIMITS

            assert set(namespace.benches) <= {*BENCHES, LIMITS}, namespace.benches
    elif program == "docker":
        dockerfile = (ROOT / "Dockerfile").read_text()
        if args[0] == "run":
            for volume in (a.split(":")[1] for a in args if re.fullmatch(r"[\w-]+:/[\w/]+", a)):
                assert f'VOLUME ["{volume}"]' in dockerfile
            for port in (a.split(":")[1] for a in args if re.fullmatch(r"\d+:\d+", a)):
                assert f"EXPOSE {port}" in dockerfile
        else:
            assert args[0] == "build"
    elif program == "mkdocs":
        assert args[0] in ("build", "serve") and (ROOT / "mkdocs.yml").exists()
    elif program == "bash":
        assert (ROOT / args[0]).exists()
    elif program in ("ruff", "mypy", "lint-imports"):
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
        assert any(e.startswith(program.replace("lint-imports", "import-linter")) for e in extras)
    else:
        raise AssertionError(f"no check for {program!r}: add one to tests/test_docs.py")


def _split_chain(command: str) -> list[list[str]]:
    chain: list[list[str]] = [[]]
    for word in shlex.split(command, comments=True):
        if word == "&&":
            chain.append([])
        else:
            chain[-1].append(word)
    return [argv for argv in chain if argv]


COMMANDS = shown_commands()


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w}: {c[:60]}" for w, c in COMMANDS])
def test_every_shell_command_shown_is_accepted_by_what_it_runs(
    where: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for argv in _split_chain(command):
        _check(argv, monkeypatch)


def test_the_command_check_itself_refuses_what_the_commands_would() -> None:
    """A typo in a page fails the test above: the checks are not a formality."""
    for wrong in (
        "videobot jobs --state sleeping",
        "videobot chekc",
        "python -m bench.run pols",
        "python -m bench.soak --jobz 3",
        "python -m tests.fakes.demo 'A heron' --remix 'colour=red'",
        "pip install -e '.[docs]'",
        "docker run -v data:/var/lib -p 3000:3000 videobot",
        "npm start",
    ):
        with pytest.MonkeyPatch.context() as patch, pytest.raises((AssertionError, SystemExit)):
            for argv in _split_chain(wrong):
                _check(argv, patch)


def test_the_pages_show_commands_of_every_kind() -> None:
    programs = {argv[0] for _, command in COMMANDS for argv in _split_chain(command)}
    assert {"videobot", "python", "docker", "pip"} <= programs
    assert any("tests.fakes.demo" in command for _, command in COMMANDS)


def test_every_schema_version_the_pages_show_is_todays() -> None:
    from storage.schema import MIGRATIONS

    shown = {
        f"{path.relative_to(ROOT)}: {number}"
        for path in [ROOT / "README.md", *pages()]
        for number in re.findall(r"schema version (\d+)", path.read_text())
    }
    assert shown, "no page shows the schema version any more"
    assert sorted(s for s in shown if not s.endswith(f": {len(MIGRATIONS)}")) == []
