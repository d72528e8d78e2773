"""The `videobot` command: run the bot, and the few things its operator needs from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from importlib import metadata

from bot.domain import catalogue
from bot.domain.job import Decision, JobState
from bot.domain.settings import Settings
from bot.runtime.config import ConfigError, load_database_url, load_settings
from storage.db import Store
from storage.engine import DatabaseUnavailable

# Commands that only read or change the database: they need DATABASE_URL and nothing else (a finance person
# running `export` has no Slack or Perf secrets, and should not need them).
DATABASE_ONLY = frozenset({"migrate", "jobs", "job", "retry", "cancel", "vacuum", "export", "backup"})


def _version() -> str:
    try:
        return metadata.version("videobot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videobot", description="Slack /video bot for the Perf video API.")
    parser.add_argument("--version", action="version", version=f"videobot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
        """A sub-command: `summary` in `videobot --help`, with `details` in its own --help."""
        return sub.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}. {details}".strip())

    command(
        "run",
        "start the bot (Socket Mode with SLACK_APP_TOKEN, otherwise HTTP on PORT)",
        "Reads the settings from the environment and .env, migrates a small database, connects to Slack and "
        "serves until SIGTERM or Ctrl-C.",
    )
    command(
        "check",
        "check the settings, the Slack tokens, the Perf key and the database",
        "Each line says ok or FAIL and what to fix; the exit status is 0 only when every line is ok. "
        "Run it before the first `videobot run`.",
    )
    command(
        "migrate",
        "bring the database schema up to date, then exit",
        "Needs only DATABASE_URL; reports each migration as it runs.",
    )
    jobs = command("jobs", "list jobs", "Newest first; needs only DATABASE_URL.")
    jobs.add_argument("--state", choices=[s.value for s in JobState], help="only jobs in this state")
    jobs.add_argument("--channel", help="only jobs of this channel ID")
    jobs.add_argument("--workspace", metavar="TEAM_ID", help="only jobs of this workspace")
    jobs.add_argument("--since", help="only jobs younger than this: 30m, 12h, 1d, 2w")
    jobs.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    job = command("job", "show one job's settings and its whole history", "Needs only DATABASE_URL.")
    job.add_argument("job_id")
    retry = command(
        "retry",
        "deliver again a job Perf finished but Slack did not get (never resubmits)",
        "The running bot (or the next one started) does the delivery; needs only DATABASE_URL.",
    )
    retry.add_argument("job_id")
    cancel = command(
        "cancel",
        "stop tracking a job (Perf has no cancel: it may still be charged)",
        "Its messages say it was cancelled; needs only DATABASE_URL.",
    )
    cancel.add_argument("job_id")
    vacuum = command(
        "vacuum",
        "give the space of deleted rows back to the disk, while the bot runs",
        "Needs only DATABASE_URL.",
    )
    vacuum.add_argument(
        "--full", action="store_true", help="SQLite files made before incremental vacuum: rewrite once (bot stopped)"
    )
    export = command(
        "export",
        "write one row per job (id, time, channel, person, model, cost…) for finance",
        "CSV or JSON, to stdout or a file; needs only DATABASE_URL.",
    )
    export.add_argument("--since", help="only jobs younger than this: 30d, 12h, 2w (default: every job)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--workspace", metavar="TEAM_ID", help="only this workspace's jobs (default: every one)")
    export.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    backup = command(
        "backup",
        "copy the SQLite database to PATH while the bot runs (PostgreSQL: pg_dump)",
        "The copy is consistent and readable by its owner only (0600); needs only DATABASE_URL.",
    )
    backup.add_argument("path")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except DatabaseUnavailable as exc:
        # Any command, any engine: one line naming the database (never its password) and what to check.
        print(f"videobot: {exc}", file=sys.stderr)
        return 1


def _configuration_refused(command: str, exc: ConfigError) -> int:
    """Every problem found, one line each, naming the setting (never its value); nothing was created."""
    for problem in exc.problems:
        if command == "check":
            print(f"FAIL configuration: {problem}")
        else:
            print(f"videobot: configuration error: {problem}", file=sys.stderr)
    return 2


def _command(args: argparse.Namespace) -> int:
    if args.command in DATABASE_ONLY:
        try:
            database_url = load_database_url()
        except ConfigError as exc:
            return _configuration_refused(args.command, exc)
        if args.command == "migrate":
            return asyncio.run(_migrate(database_url))
        return asyncio.run(_operate(args, database_url))
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _configuration_refused(args.command, exc)
    if args.command == "run":
        from bot.runtime.app import ListenFailed, MigrateFirst, SlackRefused, serve
        from bot.runtime.logs import setup_logging

        setup_logging(settings.log_level, settings.secrets(), settings.log_format)
        try:
            asyncio.run(serve(settings))
        except (MigrateFirst, ListenFailed, SlackRefused) as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
        return 0
    return asyncio.run(_check(settings))


async def _check(settings: Settings) -> int:
    from bot.runtime import ops

    lines = await ops.run_checks(settings)
    for line in lines:
        print(line.render())
    return 0 if all(line.ok for line in lines) else 1


async def _operate(args: argparse.Namespace, database_url: str) -> int:
    from bot.runtime import ops

    missing = ops.missing_database(database_url)
    if missing:
        print(
            f"videobot: no database at {missing} (DATABASE_URL): check the path and the directory you run from; "
            "`videobot migrate` creates an empty one",
            file=sys.stderr,
        )
        return 1
    if args.command == "backup":
        try:
            path = ops.sqlite_file(database_url)
            size = ops.backup(path, args.path)
        except (ops.OpsRefused, OSError) as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
        print(f"backed up {path} to {args.path} ({size} bytes)")
        return 0
    async with ops.opened_store(database_url) as store:
        try:
            if args.command == "jobs":
                since = ops.now() - ops.parse_since(args.since) if args.since else None
                states = [JobState(args.state)] if args.state else []
                found = await store.jobs(
                    team_id=args.workspace, states=states, channel_id=args.channel, since=since, limit=args.limit
                )
                print(ops.jobs_table(found, ops.now()) if found else "no jobs")
            elif args.command == "vacuum":
                space = await store.vacuum(full=args.full)
                print(ops.vacuum_summary(store.description, space, args.full))
                return 0 if space.incremental else 1
            elif args.command == "job":
                return await _show_job(store, args.job_id)
            elif args.command == "export":
                return await _export(store, args)
            elif args.command == "retry":
                job = await ops.retry_delivery(store, args.job_id, ops.now())
                print(f"{job.id} will be delivered again by the running bot (or when it next starts)")
            elif args.command == "cancel":
                job = await ops.cancel(store, args.job_id, ops.now())
                if job.approval == Decision.WITHDRAWN:
                    print(f"{job.id} cancelled while it waited for approval; nothing was sent to Perf or charged")
                else:
                    print(
                        f"{job.id} cancelled; its messages will say so. Perf has no cancel, so it may still be charged"
                    )
        except (ops.OpsRefused, ValueError) as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
    return 0


async def _migrate(url: str) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = await Store.open(url, migrate=False)
    try:
        applied = await store.migrate()
        version = await store.schema_version()
    finally:
        await store.close()
    done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
    print(f"{store.description}: schema version {version} ({done})")
    return 0


async def _export(store: Store, args: argparse.Namespace) -> int:
    from bot.runtime import ops

    since = ops.now() - ops.parse_since(args.since) if args.since else None
    if args.output is None:
        written = await ops.export(store, since, args.format, sys.stdout, args.workspace)
    else:
        try:
            # A command of its own: nothing else waits on this loop while the file is written.
            with open(args.output, "w", encoding="utf-8", newline="") as out:  # noqa: ASYNC230
                written = await ops.export(store, since, args.format, out, args.workspace)
        except OSError as exc:
            print(f"videobot: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    print(f"exported {written} jobs" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


async def _show_job(store: Store, job_id: str) -> int:
    job = await store.get_job(job_id, team_id=None)  # the operator's: any workspace's job
    if job is None:
        print(f"videobot: no job {job_id}", file=sys.stderr)
        return 1
    print(f"{job.id}  {job.state.value}  channel {job.channel_id}  by {job.user_id}")
    print(f"  {job.model} · {job.duration_seconds} s · {job.resolution} · {job.aspect_ratio}")
    print(f"  prompt: {job.prompt[:200]}")
    print(f"  perf job: {job.perf_job_id or '-'}  cost: {catalogue.usd(job.cost_micros)}")
    if job.error_message:
        print(f"  error: {job.error_message}")
    for at, state, detail in await store.job_events(job.id):
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {stamp}Z  {state:<11} {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
