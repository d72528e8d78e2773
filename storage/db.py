"""The store: every query the bot makes, for SQLite and PostgreSQL alike. Nothing outside `storage/` touches SQL.

`Store` is a facade over one module per seam of the data, each a class of queries over `StoreBase` (the
engine and its reads):

    storage/schema.py      the migrations, and applying them
    storage/jobs.py        reading jobs, writing their changes (StaleJob), their events
    storage/admissions.py  a job joins the account: quota check, trigger, place in line (group commit)
    storage/usage.py       usage of a day, channels' own limits, what the reports sum up
    storage/queue.py       the account's line and its concurrent slots at Perf
    storage/leases.py      which replica advances a job; claims to post a progress message
    storage/reports.py     each daily report claimed once
    storage/replays.py     request signatures already seen (group commit)
    storage/home.py        App Home viewers and their recent jobs
    storage/defaults.py    the channels' and the people's defaults
    storage/presets.py     presets: named recipes of settings, a person's or a channel's
    storage/takes.py       takes posted again once: the showcase, a private take's share
    storage/recall.py      a person's jobs by the words of their prompts (/video history)
    storage/maintenance.py retention's batched deletes, giving free space back
    storage/counts.py      what a /metrics scrape reads, on a connection of its own
    storage/spend.py       what was spent a day per workspace, channel, person, model; budgets' 80% notices
    storage/plans.py       the hot queries by name, and their query plans (tests/test_query_plans.py)
    storage/heartbeats.py  each replica's last write that succeeded (/healthz)
    storage/people.py      each person's Slack locale, asked once a day (the language they are answered in)
    storage/adoption.py    rows stored before the workspace was in every key, given to their workspace
    storage/workspace_jobs.py  a workspace's unfinished jobs, ended when it uninstalls videobot
    storage/slack_buckets.py   Slack's pace shared by replicas (PostgreSQL): one GCRA bucket per lane

and what they share: `storage/rows.py` (a Job as a row and back), `storage/sql.py` (IN lists, multi-row
INSERTs, the domain's job states as SQL), `storage/groups.py` (group commit).

The seams are mixed into one class rather than owned as parts because the callers speak to one flat
`Store` (`store.get_job(…)`, `store.claim_due(…)`): as parts, each of its 35 methods would be written a
second time here to forward it. Mixed in, a method lives only beside the SQL of its seam, and a seam
reads only `StoreBase`'s engine and its own state, never another seam, so each module reads alone.
"""

from __future__ import annotations

from storage.admissions import AdmissionQueries, JobIdTaken
from storage.adoption import AdoptionQueries
from storage.approvals import ApprovalQueries
from storage.connect import open_engine
from storage.counts import CountQueries
from storage.defaults import DefaultsQueries
from storage.exports import ExportQueries
from storage.heartbeats import HeartbeatQueries
from storage.home import HomeQueries
from storage.jobs import JobQueries, StaleJob
from storage.leases import LeaseQueries
from storage.maintenance import MaintenanceQueries
from storage.people import PeopleQueries
from storage.plans import PlanQueries
from storage.postgres import DEFAULT_ACQUIRE_TIMEOUT_SECONDS, DEFAULT_CONNECT_TIMEOUT_SECONDS
from storage.presets import PresetQueries
from storage.queue import QueueQueries
from storage.recall import RecallQueries
from storage.replays import ReplayQueries
from storage.reports import ReportQueries
from storage.schema import MIGRATIONS, job_count, migrate, pending_migrations
from storage.slack_buckets import SlackBucketQueries
from storage.spend import SpendQueries
from storage.takes import TakeQueries
from storage.usage import UsageQueries
from storage.workspace_jobs import WorkspaceJobQueries

__all__ = ["MIGRATIONS", "JobIdTaken", "StaleJob", "Store"]


class Store(
    JobQueries,
    AdmissionQueries,
    UsageQueries,
    QueueQueries,
    LeaseQueries,
    ReportQueries,
    ReplayQueries,
    HomeQueries,
    RecallQueries,
    MaintenanceQueries,
    CountQueries,
    PlanQueries,
    SpendQueries,
    ApprovalQueries,
    ExportQueries,
    DefaultsQueries,
    TakeQueries,
    PresetQueries,
    HeartbeatQueries,
    PeopleQueries,
    AdoptionQueries,
    WorkspaceJobQueries,
    SlackBucketQueries,
):
    """Every query the bot makes, on either engine. Each write is one transaction, committed at once."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT_SECONDS,
    ) -> Store:
        """`url` is a DATABASE_URL; a bare path is taken as a SQLite file. Timeouts in seconds (PostgreSQL)."""
        engine = await open_engine(
            url if "://" in url else f"sqlite:///{url}",
            connect_timeout=connect_timeout,
            acquire_timeout=acquire_timeout,
        )
        store = cls(engine)
        if migrate:
            await store.migrate()
        return store

    @property
    def engine(self) -> str:
        return self._engine.name

    @property
    def description(self) -> str:
        return self._engine.description

    async def close(self) -> None:
        await self._engine.close()

    async def migrate(self) -> list[int]:
        """Bring the schema up to date; the versions this call applied (none if another did it first)."""
        return await migrate(self._engine)

    async def pending_migrations(self) -> int:
        return await pending_migrations(self._engine)

    async def job_count(self, at_most: int | None = None) -> int:
        """Jobs stored, counted up to `at_most` (0 on a database with no tables yet)."""
        return await job_count(self._engine, at_most) if await self._engine.has_table("jobs") else 0

    async def schema_version(self) -> int:
        return int(await self._db.fetchval("SELECT MAX(version) FROM schema_version") or 0)

    async def ping(self) -> bool:
        return bool(await self._db.fetchval("SELECT 1") == 1)
