"""The statements the bot runs while it serves, by name, and how the database plans each: what
tests/test_query_plans.py reads to fail when one of them starts reading the history instead of an index.

The statements are the seams' own (their module constants and builders), bound with stand-in values:
a plan depends on the statement's shape, not on the values.
"""

from __future__ import annotations

from bot.domain.job import TERMINAL_STATES, JobState
from storage.admissions import IDS_TAKEN_SQL, LAST_ARRIVAL_SQL, TRIGGERS_TAKEN_SQL
from storage.base import StoreBase
from storage.defaults import DEFAULTS_SQL
from storage.engine import Statement
from storage.exports import EXPORT_FIRST_SQL, EXPORT_NEXT_SQL, TEAM_EXPORT_FIRST_SQL, TEAM_EXPORT_NEXT_SQL
from storage.home import RECENT_JOBS_SQL
from storage.jobs import COUNTS_SQL, EVENTS_SQL, JOB_BY_ROOT_SQL, WORKSPACE_JOB_SQL, jobs_statement
from storage.leases import ANY_DUE_SQL, CLAIM_DUE_SQL, NEXT_DUE_SQL, RENEW_LEASES_SQL
from storage.maintenance import TEAM_FORGET_SQL, TEAM_OLD_JOBS_SQL, jobs_events_sql
from storage.presets import PRESETS_SQL
from storage.queue import (
    HIGHEST_TURN_SQL,
    IN_FLIGHT_SQL,
    NEXT_PARTIES_SQL,
    PARKED_SQL,
    PARTY_AHEAD_SQL,
    WAITING_LINES_SQL,
    WAITING_PARTIES_SQL,
    heads_sql,
)
from storage.recall import history_statement
from storage.spend import (
    AWAITING_APPROVAL_SQL,
    CHANNEL_AWAITING_APPROVAL_SQL,
    SPEND_BY_DAY_SQL,
    SPEND_BY_ID_SQL,
    spend_read,
)
from storage.sql import in_list
from storage.takes import LATEST_TAKES_SQL
from storage.usage import (
    ACCOUNT_USAGE_SQL,
    CHANNEL_LIMITS_SQL,
    CHANNEL_USAGE_SQL,
    CHANNELS_USED_SQL,
    DAY_COST_SQL,
    TEAM_DAY_COST_SQL,
    USER_USAGE_SQL,
)
from storage.workspace_jobs import ENTERPRISE_OF_SQL, UNFINISHED_OF_ORG_SQL

_DAY = (1_700_000_000.0, 1_700_086_400.0)
_OPEN = [state for state in JobState if state not in TERMINAL_STATES]

HOT_QUERIES: dict[str, Statement] = {
    # /video status and /video cancel's list; `videobot check`'s count of open jobs
    "status": jobs_statement(team_id="T1", states=_OPEN, channel_id="C1"),
    "cli_open_jobs": jobs_statement(states=_OPEN),
    # `videobot jobs --since 1d`, with and without a channel; a day's reports list the day's jobs
    "cli_since": jobs_statement(since=_DAY[0], limit=50),
    "cli_since_channel": jobs_statement(channel_id="C1", since=_DAY[0], limit=50),
    "workspace_since_channel": jobs_statement(team_id="T1", channel_id="C1", since=_DAY[0], limit=50),
    "daily_summary": jobs_statement(since=_DAY[0], until=_DAY[1]),
    "daily_summary_channel": jobs_statement(team_id="T1", channel_id="C1", since=_DAY[0], until=_DAY[1]),
    "daily_summary_workspace": jobs_statement(team_id="T1", since=_DAY[0], until=_DAY[1]),
    "channels_used": (CHANNELS_USED_SQL, ("T1", *_DAY)),
    # an admission: the line's end, then the day's usage of the channel and the person, the channel's limits
    "last_arrival": (LAST_ARRIVAL_SQL, ()),
    "ids_taken": in_list(IDS_TAKEN_SQL, ["vb_aaa0000001", "vb_aaa0000002"]),
    "triggers_taken": (TRIGGERS_TAKEN_SQL.format("?", "?, ?"), ("T1", "form:V1", "form:V2")),
    "channel_usage": in_list(CHANNEL_USAGE_SQL, ["C1"], "T1", *_DAY),
    "user_usage": in_list(USER_USAGE_SQL, ["U1"], "T1", *_DAY),
    "channel_limits": in_list(CHANNEL_LIMITS_SQL, ["C1", "C2"], "T1"),
    # budgets in money (issue 19): a month's spend of channels and of the workspace, a day's of people, from
    # the summary spend_days; the account's jobs of the last 24 hours
    "spend_channels_month": spend_read("T1", "channel", ["C1", "C2"], _DAY),
    "spend_workspace_month": spend_read("T1", "workspace", [""], _DAY),
    "account_usage": (ACCOUNT_USAGE_SQL, ("", _DAY[0])),
    # App Home's 30 days, `/video report month`'s channels, people and models
    "spend_by_day": (SPEND_BY_DAY_SQL, ("T1", "user", "U1", *_DAY)),
    "spend_by_id": (SPEND_BY_ID_SQL, ("T1", "channel", *_DAY)),
    # the 80% notices leave out what jobs awaiting approval hold, of the workspace and of a channel
    "awaiting_approval_spend": (AWAITING_APPROVAL_SQL, ("T1", *_DAY)),
    "awaiting_approval_spend_channel": (CHANNEL_AWAITING_APPROVAL_SQL, ("T1", *_DAY, "C1")),
    # App Home: a person's recent jobs; an admin's overview of the day's channels
    "home_recent_jobs": (RECENT_JOBS_SQL, ("T1", "U1", 5)),
    "day_cost": (DAY_COST_SQL, _DAY),
    "workspace_day_cost": (TEAM_DAY_COST_SQL, ("T1", *_DAY)),
    "home_showcase": (LATEST_TAKES_SQL, ("T1", "showcase", 5)),
    # /metrics
    "metrics_counts": (COUNTS_SQL, ()),
    # the poller: due jobs and their leases, the account's line and slots
    "any_due": (ANY_DUE_SQL, (1.0, 1.0)),
    "claim_due": (CLAIM_DUE_SQL.format(""), ("owner", 2.0, 1.0, 1.0, 10)),
    "next_due": (NEXT_DUE_SQL, ()),
    "renew_leases": (RENEW_LEASES_SQL, (2.0, "owner", 1.5)),
    "in_flight": (IN_FLIGHT_SQL, ("",)),
    "queue_parked": (PARKED_SQL, ()),
    # the fair line (issue 28): the parties next in turn, a party's first jobs in line and its jobs ahead
    # of one of them, every party waiting (a place in line), the turn a party takes with a slot
    "line_next_parties": (f"{NEXT_PARTIES_SQL} LIMIT ?", ("", 5)),
    "line_heads": heads_sql({":T1:U1": 3, "T2:T2:U2": 1}),
    "line_party_ahead": (PARTY_AHEAD_SQL, ("", "T1", "U1", "vb_1", 5)),
    "line_waiting_parties": (WAITING_PARTIES_SQL, ("",)),
    "line_waiting_lines": (WAITING_LINES_SQL, ()),
    "line_highest_turn": (HIGHEST_TURN_SQL, ()),
    # every new request: the person's own defaults and the channel's
    "defaults": (DEFAULTS_SQL, ("T1", "person", "U1", "T1", "channel", "C1")),
    "presets": (PRESETS_SQL, ("T1", "person", "U1", "T1", "channel", "C1")),
    # a reaction or a click names its message; `videobot job` shows a job's steps
    "job_by_root": (JOB_BY_ROOT_SQL, ("1.0", "C1", "T1")),
    "workspace_job": (WORKSPACE_JOB_SQL, ("vb_1", "T1")),
    "job_events": (EVENTS_SQL, ("vb_1",)),
    # `videobot export --since 30d`: a batch at the start of the range, then each next one after the last row
    "export_first": (EXPORT_FIRST_SQL, (_DAY[0], 1000)),
    "export_next": (EXPORT_NEXT_SQL, (_DAY[0], 7, 1000)),
    "workspace_export_first": (TEAM_EXPORT_FIRST_SQL, ("T1", _DAY[0], 1000)),
    "workspace_export_next": (TEAM_EXPORT_NEXT_SQL, ("T1", _DAY[0], 7, 1000)),
    # /video history: a person's jobs with one word, with three (/video show reads a job by its id)
    "history_one_word": history_statement("T1", "U1", ["lighthouse"], 10),
    "history_words": history_statement("T1", "U1", ["lighthouse", "storm", "waves"], 10),
    # Enterprise Grid (issue 25): a workspace's org for a daily report; an org-wide uninstall's open jobs
    "enterprise_of": (ENTERPRISE_OF_SQL, ("T1",)),
    "org_unfinished": (UNFINISHED_OF_ORG_SQL, ("E1",)),
    # the maintenance run, a workspace's own retention (issue 25): its jobs since the last run's mark, their
    # old events, its viewers and report claims, each batch bounded whatever the history
    "retention_team_jobs": (TEAM_OLD_JOBS_SQL, ("T1", _DAY[0], 7, _DAY[1], 100)),
    "retention_team_events": (jobs_events_sql(3), ("vb_1", "vb_2", "vb_3", _DAY[1], 1000)),
    "retention_team_viewers": (TEAM_FORGET_SQL["home_viewers"], ("T1", _DAY[1], 1000)),
    "retention_team_reports": (TEAM_FORGET_SQL["daily_reports"], ("T1", _DAY[1], 1000)),
}


class PlanQueries(StoreBase):
    async def query_plan(self, name: str) -> list[str]:
        """How the database would run the hot query `name`: SQLite's EXPLAIN QUERY PLAN details (`SEARCH
        jobs USING INDEX …`), or PostgreSQL's EXPLAIN lines."""
        sql, params = HOT_QUERIES[name]
        if self._engine.name == "sqlite":
            return [str(row[3]) for row in await self._db.fetch(f"EXPLAIN QUERY PLAN {sql}", *params)]
        return [str(row[0]) for row in await self._db.fetch(f"EXPLAIN {sql}", *params)]

    async def partial_indexes(self) -> set[str]:
        """SQLite's indexes that hold only some rows of their table (a WHERE of their own)."""
        rows = await self._db.fetch("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {str(row[0]) for row in rows if " WHERE " in str(row[1]).upper()}
