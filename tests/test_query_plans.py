"""The reads the bot makes while it serves never read the history: each is an index search.

SQLite plans a query from the schema alone (the bot never runs ANALYZE), so the plan on this empty
database is the plan on one with a year of jobs. A plan that starts scanning `jobs` or `job_events`, or
sorting a whole range, fails here before a busy workspace finds it slow (bench/history.py measures it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.recall import MAX_CANDIDATES
from storage.db import Store
from storage.plans import HOT_QUERIES

# Sorts that cannot grow with history: the ties of one created_at (the right part of an ORDER BY), or the
# grouping of one day's rows (the day was found through jobs_created first; checked below).
_BOUNDED_SORTS = {
    "daily_summary_channel": "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    "cli_since_channel": "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    "home_recent_jobs": "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    "claim_due": "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",  # among the due jobs (jobs_due) only
    "day_cost": "USE TEMP B-TREE FOR GROUP BY",
    "workspace_day_cost": "USE TEMP B-TREE FOR GROUP BY",
    # one row a workspace and state (issue 25): the workspaces' counts summed, never the jobs
    "metrics_counts": "USE TEMP B-TREE FOR GROUP BY",
    # a person's presets and a channel's, by name: a handful of rows found through the key
    "presets": "USE TEMP B-TREE FOR ORDER BY",
    # the showcase's ties of one posted_at
    "home_showcase": "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    "channels_used": "USE TEMP B-TREE FOR GROUP BY|USE TEMP B-TREE FOR ORDER BY",
    # a month's rows of spend_days (issue 19), found through spend_days_period: at most 31 days of one scope
    "spend_by_id": "USE TEMP B-TREE FOR GROUP BY|USE TEMP B-TREE FOR ORDER BY",
    # the candidates of a history search, at most MAX_CANDIDATES of them (the LIMIT of their index range)
    "history_one_word": "USE TEMP B-TREE FOR ORDER BY",
    "history_words": "USE TEMP B-TREE FOR ORDER BY",
}
# The workspace's newest job (ORDER BY created_at DESC LIMIT 1): one entry of jobs_team_created.
_NEWEST_OF_WORKSPACE = {"enterprise_of"}
# Queries that must reach the day's jobs through the time index, the rest being bounded by the day.
_BY_DAY = {"day_cost", "daily_summary", "cli_since", "account_usage"}
# A workspace's day: through jobs_team_created (issue 25), the workspace's jobs of the day alone.
_WORKSPACE_BY_DAY = {"channels_used", "workspace_day_cost", "daily_summary_workspace"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'plans.db'}")
    yield opened
    await opened.close()


def _reads_history(line: str, partial: set[str]) -> bool:
    """A step that visits every row of jobs or job_events (a partial index holds only the live ones)."""
    scan = re.match(r"SCAN (jobs|job_events)\b(?: AS \w+)?(?: USING (?:COVERING )?INDEX (\w+))?", line)
    return scan is not None and scan.group(2) not in partial


@pytest.mark.parametrize("name", sorted(HOT_QUERIES))
async def test_a_hot_query_searches_an_index_and_never_reads_the_history(store: Store, name: str) -> None:
    plan = await store.query_plan(name)
    partial = await store.partial_indexes()
    assert plan, name
    assert not [line for line in plan if _reads_history(line, partial)], f"{name} reads every job: {plan}"
    # A search of the workspace alone is the whole history of a workspace that has one (App Home's recent
    # jobs of a person with fewer than ten walked all of them this way: 12 s on a year).
    whole = [line for line in plan if re.search(r"INDEX jobs_team_created \(team_id=\?\)$", line)]
    assert name in _NEWEST_OF_WORKSPACE or not whole, f"{name} reads every job of the workspace: {plan}"
    sorts = [line for line in plan if "TEMP B-TREE" in line]
    allowed = _BOUNDED_SORTS.get(name)
    assert all(allowed and re.fullmatch(allowed, line) for line in sorts), f"{name} sorts its rows: {plan}"
    if name in _BY_DAY:
        assert any("USING INDEX jobs_created (created_at>?" in line for line in plan), f"{name}: {plan}"
    if name in _WORKSPACE_BY_DAY:
        assert any("jobs_team_created (team_id=? AND created_at>?" in line for line in plan), f"{name}: {plan}"


async def test_the_open_jobs_of_a_channel_come_from_the_index_of_unfinished_jobs(store: Store) -> None:
    # /video status with 186k finished jobs in the channel read all of them to return none (issue 17).
    assert any("jobs_open_channel" in line for line in await store.query_plan("status"))
    assert any("jobs_open" in line for line in await store.query_plan("cli_open_jobs"))


async def test_a_history_search_reads_a_bounded_range_of_the_words_index(store: Store) -> None:
    # Each word is a search of job_words' key (the person, the word); the first one's range is cut at
    # MAX_CANDIDATES, so a person's thousandth job with a common word costs what their tenth does.
    for name in ("history_one_word", "history_words"):
        plan = await store.query_plan(name)
        words = [line for line in plan if "job_words" in line]
        assert words and all("(team_id=? AND user_id=? AND word=?" in line for line in words), plan
        assert any("SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (id=?)" in line for line in plan), plan
    assert f"LIMIT {MAX_CANDIDATES}" in HOT_QUERIES["history_words"][0]
