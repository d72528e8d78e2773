"""What the person who runs videobot does from a shell: check the set-up, look at jobs, fix one, back up.

Every command opens the same SQLite file as the running bot (WAL lets both write) and uses the same
clients, so `retry` and `cancel` work while the bot runs: they change the job's row and make it due,
and the bot's poller does the rest.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from bot.clients.perf import KeyCheck, PerfClient, PerfError, PerfNotFound, PerfRejected, PerfRetryLater
from bot.domain import catalogue
from bot.domain.job import TERMINAL_STATES, Job, JobState
from bot.domain.settings import Settings
from bot.features.control import stop_tracking
from bot.runtime import tokens
from storage.db import MIGRATIONS, Store
from storage.engine import DatabaseUnavailable, describe_url, sqlite_path
from storage.exports import ExportRow
from storage.maintenance import Space
from storage.secrets import Workspace
from storage.workspaces import WorkspaceStore, WorkspaceSummary

# Perf ids look like job_vid_…; this one cannot exist, so a 404 proves the key was accepted.
_PROBE_JOB_ID = "job_vid_videobot_check_0000"


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    detail: str

    def render(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def run_checks(settings: Settings) -> list[CheckLine]:
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on port {settings.port}"
    lines = [CheckLine("configuration", True, mode)]
    for answer in await tokens.ask_slack(settings):
        name = "slack" if answer.setting == "SLACK_BOT_TOKEN" else "slack socket mode"
        lines.append(CheckLine(name, answer.ok, answer.detail))
    lines.append(await _check_perf(settings))
    lines.append(await _check_database(settings))
    return lines


async def _check_perf(settings: Settings) -> CheckLine:
    if not settings.perf_api_key:  # only with many workspaces (load_settings requires it with one)
        return CheckLine("perf", True, "no operator key: workspaces pay with their own")
    perf = PerfClient(PerfClient.make_http_client(settings.perf_api_url, settings.perf_api_key, timeout=15.0))
    try:
        await perf.status(_PROBE_JOB_ID)
    except PerfNotFound:
        return CheckLine("perf", True, f"API key accepted by {settings.perf_api_url}")
    except PerfRejected as exc:
        return CheckLine(
            "perf", False, f"Perf refused PERF_API_KEY (HTTP {exc.status}): check the key in Perf's dashboard"
        )
    except PerfRetryLater as exc:
        return CheckLine("perf", False, f"Perf at {settings.perf_api_url} is not answering properly: {exc}")
    finally:
        await perf.aclose()
    return CheckLine("perf", False, "Perf answered a job id that cannot exist: is PERF_API_URL the real API?")


async def _check_database(settings: Settings) -> CheckLine:
    try:
        store = await Store.open(
            settings.database_url,
            connect_timeout=settings.db_connect_timeout_seconds,
            acquire_timeout=settings.db_acquire_timeout_seconds,
        )
    except DatabaseUnavailable as exc:
        return CheckLine("database", False, str(exc))
    except Exception as exc:
        return CheckLine("database", False, f"cannot open {describe_url(settings.database_url)}: {exc}")
    try:
        version = await store.schema_version()
        jobs = len(await store.jobs(states=[s for s in JobState if s not in TERMINAL_STATES]))
    finally:
        await store.close()
    return CheckLine(
        "database", True, f"{store.description}: schema version {version} of {len(MIGRATIONS)}, {jobs} jobs open"
    )


@contextlib.asynccontextmanager
async def opened_store(database_url: str) -> AsyncIterator[Store]:
    store = await Store.open(database_url)
    try:
        yield store
    finally:
        await store.close()


def parse_since(text: str) -> float:
    """`30m`, `12h`, `1d`, `2w` → seconds."""
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit():
        raise ValueError(f"--since takes a number and a unit (30m, 12h, 1d, 2w), not {text!r}")
    return int(number) * units[unit]


def jobs_table(jobs: list[Job], now: float) -> str:
    header = ("id", "state", "channel", "who", "model", "age", "cost")
    rows = [
        (
            job.id,
            job.state.value,
            job.channel_id,
            job.user_id,
            job.model,
            _age(now - job.created_at),
            f"{catalogue.usd(job.cost_micros)}",
        )
        for job in jobs
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


class OpsRefused(Exception):
    """The command cannot do this to this job; the message says why."""


def retryable(job: Job) -> bool:
    """Finished at Perf (it has the video) but not delivered as a file into its thread."""
    finished_at_perf = job.perf_job_id is not None and job.video_url is not None
    return finished_at_perf and (job.state == JobState.FAILED or job.delivered_as_link)


async def retry_delivery(store: Store, job_id: str, now: float) -> Job:
    job = await store.get_job(job_id, team_id=None)  # the operator's: any workspace's job
    if job is None:
        raise OpsRefused(f"no job {job_id}")
    if not retryable(job):
        raise OpsRefused(
            f"{job_id} is {job.state.value}; retry only re-delivers a job Perf finished whose video did not reach "
            "its thread (it never submits again)"
        )
    return await store.update_job(
        job,
        event="retry_delivery requested from the command line",
        state=JobState.COMPLETE,
        upload_file_id=None,
        upload_sent=False,
        file_shared=False,
        delivered_as_link=False,
        delivery_note=None,
        error_message=None,
        finalized=False,
        poll_failures=0,
        updated_at=now,
        next_poll_at=now,
    )


async def cancel(store: Store, job_id: str, now: float) -> Job:
    job = await store.get_job(job_id, team_id=None)  # the operator's: any workspace's job
    if job is None:
        raise OpsRefused(f"no job {job_id}")
    if job.state in TERMINAL_STATES:
        raise OpsRefused(f"{job_id} already ended ({job.state.value})")
    return await stop_tracking(store, job, now, "whoever runs videobot")


def missing_database(database_url: str) -> str:
    """The SQLite file DATABASE_URL names, when there is none: opening it would create an empty database, so a
    mistyped path would export 0 jobs or back up nothing without a word. Empty when there is one (or for
    PostgreSQL, which says so itself)."""
    if database_url.startswith("sqlite:///"):
        path = sqlite_path(database_url)
        if not Path(path).exists():
            return path
    return ""


def sqlite_file(database_url: str) -> str:
    if not database_url.startswith("sqlite:///"):
        raise OpsRefused("backup copies a SQLite file; for PostgreSQL use pg_dump, which copies it consistently live")
    return sqlite_path(database_url)


def backup(database_path: str, target: str) -> int:
    """SQLite's online backup: a consistent copy while the bot keeps writing. Returns the bytes written."""
    destination = Path(target)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Created here, owner-only (0600) and never over an existing file: a copy holds everything the
        # database does, and the umask would make it readable by everyone.
        os.close(os.open(destination, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise OpsRefused(f"{target} exists; choose a new file name") from None
    source = sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)
    copy = sqlite3.connect(str(destination))
    try:
        with copy:
            source.backup(copy, pages=256, sleep=0.005)
    finally:
        copy.close()
        source.close()
    return destination.stat().st_size


def vacuum_summary(description: str, space: Space, full: bool) -> str:
    if space.engine != "sqlite":
        return (
            f"{description}: VACUUM (ANALYZE) done on the tables retention deletes from; their free space is reused "
            "by new rows (autovacuum does the same on its own; VACUUM FULL would lock the tables, so it is not run)"
        )
    mb = f"{space.free_bytes / 1e6:.1f} MB"
    if full:
        return f"{description}: rewritten, {space.reclaimed_bytes / 1e6:.1f} MB given back; incremental vacuum is on"
    if space.incremental:
        return f"{description}: {space.reclaimed_bytes / 1e6:.1f} MB given back to the disk ({mb} was free inside)"
    return (
        f"{description}: {mb} free inside the file, but it was created before incremental vacuum, so it cannot be "
        "given back while the bot runs. Stop the bot, then run `videobot vacuum --full` once (it rewrites the file "
        "and needs that much free disk again); from then on the bot gives space back by itself"
    )


def now() -> float:
    return time.time()


# --- `videobot export`: one row per job, for finance ------------------------------------------------

EXPORT_FIELDS = (
    "job_id",
    "created_at",
    "channel_id",
    "user_id",
    "model",
    "duration_seconds",
    "resolution",
    "state",
    "estimated_cost_usd",
    "charged_cost_usd",
    "team_id",  # the workspace: the same channel or person id in two workspaces are two
)


def _dollars(micros: int | None) -> str:
    """Exact dollars from micro-dollars, at least to the cent: 2800000 → "2.80", 134000 → "0.134"."""
    if micros is None:
        return ""
    whole, cents = f"{Decimal(micros).scaleb(-6):.6f}".split(".")
    return f"{whole}.{cents.rstrip('0').ljust(2, '0')}"


def export_values(row: ExportRow) -> tuple[str, ...]:
    """A job's export row as text, in EXPORT_FIELDS' order; the time in UTC, ISO 8601."""
    return (
        row.job_id,
        datetime.fromtimestamp(row.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        row.channel_id,
        row.user_id,
        row.model,
        f"{row.duration_seconds.normalize():f}",
        row.resolution,
        row.state.value,
        _dollars(row.estimated_cost_micros),
        _dollars(row.charged_cost_micros),
        row.team_id,
    )


class Writable(Protocol):
    """Where an export goes: stdout, a file, anything with `write`."""

    def write(self, text: str, /) -> int: ...


async def export(store: Store, since: float | None, fmt: str, out: Writable, team_id: str | None = None) -> int:
    """Write every job stored since `since` (one workspace's with `team_id`) to `out`, as CSV (with a header)
    or one JSON array of objects (costs as numbers, a charged cost Perf never reported as null); the number
    of jobs written.

    Streamed: one batch of rows is held at a time, so a year costs no more memory than a day."""
    written = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_FIELDS)
    else:
        out.write("[")
    async for batch in store.export_batches(since, team_id=team_id):
        for row in batch:
            values = export_values(row)
            if writer is not None:
                writer.writerow(values)
            else:
                out.write(("," if written else "") + "\n" + json.dumps(_json_object(values)))
            written += 1
    if writer is None:
        out.write("\n]\n" if written else "]\n")
    return written


def _json_object(values: tuple[str, ...]) -> dict[str, object]:
    item: dict[str, object] = dict(zip(EXPORT_FIELDS, values, strict=True))
    for money in ("estimated_cost_usd", "charged_cost_usd"):
        item[money] = float(str(item[money])) if item[money] else None
    item["duration_seconds"] = float(str(item["duration_seconds"]))
    return item


# --- many workspaces (issue 25): `videobot workspaces`, `videobot keys rotate` --------------------------------


def workspaces_table(summaries: list[WorkspaceSummary], month: str, operator_pays: bool) -> str:
    """`videobot workspaces`: one line a workspace, never a key."""
    if not summaries:
        return "no workspaces yet: none has installed videobot, and none has a Perf key or settings of its own"
    fallback = "operator's" if operator_pays else "none"
    header = ("team", "org", "name", "installed", "perf key", f"jobs {month}")
    rows = [
        (
            summary.team_id or "(org-wide)",
            summary.enterprise_id or "-",
            summary.name or "-",
            datetime.fromtimestamp(summary.installed_at, UTC).strftime("%Y-%m-%d") if summary.installed_at else "-",
            "own" if summary.has_key else fallback,
            str(summary.jobs_in_period),
        )
        for summary in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def read_key(text: str) -> str:
    """The key typed or piped on stdin: one line, no spaces; OpsRefused (never echoing it) otherwise."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise OpsRefused("no key on stdin: pipe it in, e.g. `videobot workspaces set-key T0123 < perf-key.txt`")
    if len(lines) > 1:
        raise OpsRefused("stdin holds more than one line: give the key alone, on one line")
    key = lines[0]
    if not key.isascii() or any(c.isspace() for c in key) or len(key) < 12:
        raise OpsRefused("that is not a Perf key (pk_live_… or pk_test_…, one unbroken string): nothing was stored")
    return key


async def check_perf_key(perf_api_url: str, key: str) -> KeyCheck:
    perf = PerfClient(PerfClient.make_http_client(perf_api_url, timeout=15.0))
    try:
        return await perf.check_key(key)
    except PerfError as exc:
        raise OpsRefused(f"Perf at {perf_api_url} could not check the key ({exc}): nothing was stored") from None
    finally:
        await perf.aclose()


async def workspace_named(workspaces: WorkspaceStore, team_id: str) -> Workspace:
    """The workspace TEAM_ID names: a known one, else a team (T…) or an org (E…) not yet installed."""
    found = await workspaces.find(team_id)
    if found is not None:
        return found
    if team_id.startswith("E"):
        return Workspace(enterprise_id=team_id, team_id=None)
    return Workspace(enterprise_id=None, team_id=team_id)
