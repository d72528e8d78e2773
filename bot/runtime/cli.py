"""The `videobot` command: run the bot, and the few things its operator needs from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from bot.domain import catalogue
from bot.domain.job import Decision, JobState
from bot.domain.settings import Settings
from bot.runtime.config import ConfigError, load_database_url, load_settings
from storage.db import Store
from storage.engine import DatabaseUnavailable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videobot", description="Slack /video bot for the Perf video API.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (Socket Mode with SLACK_APP_TOKEN, otherwise HTTP on PORT)")
    sub.add_parser("check", help="check the settings, the Slack token, the Perf key and the database")
    sub.add_parser("migrate", help="bring the database schema up to date, then exit (needs only DATABASE_URL)")
    jobs = sub.add_parser("jobs", help="list jobs")
    jobs.add_argument("--state", choices=[s.value for s in JobState])
    jobs.add_argument("--channel")
    jobs.add_argument("--since", help="only jobs younger than this: 30m, 12h, 1d, 2w")
    jobs.add_argument("--limit", type=int, default=200)
    job = sub.add_parser("job", help="one job's settings and its whole history")
    job.add_argument("job_id")
    retry = sub.add_parser("retry", help="deliver again a job Perf finished but Slack did not get (never resubmits)")
    retry.add_argument("job_id")
    cancel = sub.add_parser("cancel", help="stop tracking a job (Perf has no cancel: it may still be charged)")
    cancel.add_argument("job_id")
    vacuum = sub.add_parser("vacuum", help="give the space of deleted rows back to the disk, while the bot runs")
    vacuum.add_argument(
        "--full", action="store_true", help="SQLite files made before incremental vacuum: rewrite once (bot stopped)"
    )
    export = sub.add_parser("export", help="one row per job (id, time, channel, person, model, cost…) for finance")
    export.add_argument("--since", help="only jobs younger than this: 30d, 12h, 2w (default: every job)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    backup = sub.add_parser("backup", help="copy the SQLite database to PATH while the bot runs (PostgreSQL: pg_dump)")
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


def _command(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return asyncio.run(_migrate())
    try:
        settings = load_settings()
    except ConfigError as exc:
        if args.command == "check":
            print(f"FAIL configuration: {exc}")
        else:
            print(f"videobot: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "run":
        from bot.runtime.app import ListenFailed, MigrateFirst, serve
        from bot.runtime.logs import setup_logging

        setup_logging(settings.log_level, settings.secrets(), settings.log_format)
        try:
            asyncio.run(serve(settings))
        except (MigrateFirst, ListenFailed) as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
        return 0
    return asyncio.run(_operate(args, settings))


async def _operate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import ops

    if args.command == "check":
        lines = await ops.run_checks(settings)
        for line in lines:
            print(line.render())
        return 0 if all(line.ok for line in lines) else 1
    if args.command == "backup":
        try:
            path = ops.sqlite_file(settings.database_url)
            size = ops.backup(path, args.path)
        except (ops.OpsRefused, OSError) as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
        print(f"backed up {path} to {args.path} ({size} bytes)")
        return 0
    async with ops.opened_store(settings) as store:
        try:
            if args.command == "jobs":
                since = ops.now() - ops.parse_since(args.since) if args.since else None
                states = [JobState(args.state)] if args.state else []
                found = await store.jobs(states=states, channel_id=args.channel, since=since, limit=args.limit)
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


async def _migrate() -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        url = load_database_url()
    except ConfigError as exc:
        print(f"videobot: configuration error: {exc}", file=sys.stderr)
        return 2
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
        written = await ops.export(store, since, args.format, sys.stdout)
    else:
        try:
            # A command of its own: nothing else waits on this loop while the file is written.
            with open(args.output, "w", encoding="utf-8", newline="") as out:  # noqa: ASYNC230
                written = await ops.export(store, since, args.format, out)
        except OSError as exc:
            print(f"videobot: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    print(f"exported {written} jobs" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


async def _show_job(store: Store, job_id: str) -> int:
    job = await store.get_job(job_id)
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
