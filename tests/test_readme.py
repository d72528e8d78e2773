"""The README is a front door that tells the truth: short, its two commands first (and CI runs the second),
and every link in it leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 200


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", readme(), re.DOTALL)
    install_and_run, run_tests = blocks[0].strip(), blocks[1].strip()
    assert install_and_run.endswith("videobot run")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert run_tests in ci_lines


def test_the_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = readme().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines: move the detail into a page under docs/"


def test_the_two_commands_come_before_any_section() -> None:
    text = readme()
    first_section = text.index("\n## ")
    assert text.index("pip install -e . && videobot run") < first_section
    assert text.index("pip install -e '.[test]' && python -m pytest") < first_section


def test_every_link_in_the_readme_leads_to_a_file_or_one_of_its_sections() -> None:
    text = readme()
    anchors = {_slug(title) for title in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        if target.startswith("#"):
            if target[1:] not in anchors:
                broken.append(target)
        elif not (ROOT / target.split("#")[0]).exists():
            broken.append(target)
    assert broken == []


def test_the_readme_links_to_the_pages_a_newcomer_needs() -> None:
    text = readme()
    for page in ("docs/start/demo.md", "docs/configuration.md", "docs/troubleshooting.md", "docs/setup/slack-app.md"):
        assert f"]({page})" in text, page
    setup = text[text.index("## Set up") :]
    assert "videobot check" in setup and "/invite @videobot" in setup


def _slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_the_picture_of_a_job_is_a_drawing_in_the_repository_with_a_text_alternative() -> None:
    import xml.etree.ElementTree as ElementTree

    found = re.search(r"!\[([^\]]{20,})\]\((docs/assets/[\w-]+\.svg)\)", readme())
    assert found is not None, "the README shows no picture of a job (with words for those who cannot see it)"
    svg = ElementTree.parse(ROOT / found.group(2)).getroot()
    assert svg.find("{http://www.w3.org/2000/svg}title") is not None
    assert "http" not in (ROOT / found.group(2)).read_text().replace("http://www.w3.org/2000/svg", "")
