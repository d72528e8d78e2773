"""The `videobot` command: run the bot, and the few things its operator needs from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from bot.clients.perf import KeyCheck
from bot.domain import catalogue
from bot.domain.job import Decision, JobState
from bot.domain.quotas import month_of
from bot.domain.settings import DEFAULT_PERF_API_URL, Settings
from bot.runtime.config import ConfigError, load_database_url, load_settings
from storage.db import Store
from storage.engine import DatabaseUnavailable
from storage.secrets import EncryptionKeyError, KeyRing, SealedValueError, generate_key
from storage.workspaces import UnfinishedJobs, WorkspaceStore, last_four

# Commands that only read or change the database: they need DATABASE_URL and nothing else (a finance person
# running `export` has no Slack or Perf secrets, and should not need them).
DATABASE_ONLY = frozenset({"migrate", "jobs", "job", "retry", "cancel", "vacuum", "export", "backup"})
# Many workspaces: DATABASE_URL, VIDEOBOT_ENCRYPTION_KEY and PERF_API_URL, never the Slack secrets.
KEY_COMMANDS = frozenset({"workspaces", "keys"})


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
    workspaces = command(
        "workspaces",
        "list the workspaces videobot serves: installed when, own Perf key or not, jobs this month",
        "Never prints a key. `set-key TEAM_ID` reads a workspace's Perf key from stdin, checks it with Perf and "
        "stores it encrypted (exit 1 if Perf refuses it); `forget TEAM_ID` deletes that workspace's data at once. "
        "Needs DATABASE_URL, and VIDEOBOT_ENCRYPTION_KEY for set-key.",
    )
    actions = workspaces.add_subparsers(dest="action", metavar="ACTION")
    set_key = actions.add_parser(
        "set-key",
        help="read a workspace's Perf key from stdin, check it with Perf, store it encrypted",
        description="Read a workspace's Perf key from stdin (one line), check it with Perf and store it "
        "encrypted; exit 1, storing nothing, if Perf refuses it.",
    )
    set_key.add_argument("team_id", metavar="TEAM_ID", help="the workspace's team id (T…), or an org's (E…)")
    forget = actions.add_parser(
        "forget",
        help="delete a workspace's data at once: its key, settings, tokens and jobs",
        description="Delete a workspace's data at once: its Perf key, settings, installation and tokens, and "
        "its jobs with their history. Refused while any of its jobs is under way.",
    )
    forget.add_argument("team_id", metavar="TEAM_ID", help="the workspace's team id (T…), or an org's (E…)")
    keys = command(
        "keys",
        "encryption keys: `keys rotate` seals every stored secret again under the first key",
        "Put a new key first in VIDEOBOT_ENCRYPTION_KEY (comma-separated, the old ones after it), restart, then "
        "run `videobot keys rotate`; once it reports nothing left, the old keys can go.",
    )
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    key_actions.add_parser(
        "rotate",
        help="seal every stored secret (Perf keys, Slack tokens) again under VIDEOBOT_ENCRYPTION_KEY's first key",
        description="Seal every stored secret (workspaces' Perf keys, installations' Slack tokens) again under "
        "the first key of VIDEOBOT_ENCRYPTION_KEY; the others must still be listed after it.",
    )
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
    if args.command in KEY_COMMANDS:
        try:
            found = _key_settings()
        except ConfigError as exc:
            return _configuration_refused(args.command, exc)
        return asyncio.run(_workspaces(args, found))
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


@dataclass(frozen=True)
class KeySettings:
    """What the workspace and key commands read: no Slack secret, and the operator's Perf key only to say who
    pays for the workspaces without their own."""

    database_url: str
    encryption_key: str
    perf_api_url: str
    perf_api_key: str
    timezone: str


def _key_settings() -> KeySettings:
    from bot.runtime.config import _environment

    env = _environment(None, ".env")

    def get(name: str, default: str = "") -> str:
        return env.get(name, "").strip() or default

    return KeySettings(
        database_url=load_database_url(),
        encryption_key=get("VIDEOBOT_ENCRYPTION_KEY"),
        perf_api_url=get("PERF_API_URL", DEFAULT_PERF_API_URL).rstrip("/"),
        perf_api_key=get("PERF_API_KEY"),
        timezone=get("VIDEOBOT_TIMEZONE", "UTC"),
    )


async def _workspaces(args: argparse.Namespace, found: KeySettings) -> int:
    """`videobot workspaces [set-key|forget] …` and `videobot keys rotate`."""
    from bot.runtime import ops

    missing = ops.missing_database(found.database_url)
    if missing:
        print(
            f"videobot: no database at {missing} (DATABASE_URL): `videobot migrate` creates an empty one",
            file=sys.stderr,
        )
        return 1
    needs_ring = args.command == "keys" or args.action == "set-key"
    try:
        ring = KeyRing.parse(found.encryption_key) if needs_ring or found.encryption_key else None
    except EncryptionKeyError as exc:
        print(f"videobot: {exc}", file=sys.stderr)
        return 2
    # Listing and forgetting open no secret: a ring of a throwaway key serves them when none is set.
    workspaces_ring = ring or KeyRing.parse(generate_key())
    async with ops.opened_store(found.database_url) as store:
        workspaces = WorkspaceStore(store, workspaces_ring)
        try:
            if args.command == "keys":
                changed = await workspaces.reseal_all()
                left = await workspaces.sealed_by_old_keys()
                print(
                    f"re-sealed {changed} stored secret(s) under key {workspaces_ring.key_ids[0]}; {left} left under "
                    "older keys" + ("" if left else ": the older keys can now be removed from VIDEOBOT_ENCRYPTION_KEY")
                )
                return 0 if left == 0 else 1
            if args.action == "set-key":
                return await _set_key(workspaces, args.team_id, found)
            if args.action == "forget":
                workspace = await workspaces.find(args.team_id)
                if workspace is None:
                    print(f"videobot: no workspace {args.team_id}: `videobot workspaces` lists them", file=sys.stderr)
                    return 1
                gone = await workspaces.forget(workspace)
                print(
                    f"{args.team_id}: forgotten: {gone.jobs} job(s), {gone.installations} installation row(s), "
                    f"{'its Perf key' if gone.keys else 'no Perf key'}, {gone.settings} setting(s)"
                )
                return 0
            now = ops.now()
            month = month_of(now, found.timezone)
            summaries = await workspaces.summaries(month.bounds)
            print(ops.workspaces_table(summaries, month.label, bool(found.perf_api_key)))
        except UnfinishedJobs as exc:
            print(
                f"videobot: {args.team_id} still has {exc.count} job(s) under way: nothing was deleted. Run it again "
                "once they end (`videobot jobs` lists them; `videobot cancel` stops one)",
                file=sys.stderr,
            )
            return 1
        except SealedValueError as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
        except ops.OpsRefused as exc:
            print(f"videobot: {exc}", file=sys.stderr)
            return 1
    return 0


async def _set_key(workspaces: WorkspaceStore, team_id: str, found: KeySettings) -> int:
    from bot.runtime import ops

    key = ops.read_key(sys.stdin.read())
    if await ops.check_perf_key(found.perf_api_url, key) is KeyCheck.REFUSED:
        print(f"videobot: Perf refused this key: nothing was stored for {team_id}", file=sys.stderr)
        return 1
    workspace = await ops.workspace_named(workspaces, team_id)
    await workspaces.set_perf_key(workspace, key, set_by="the operator (videobot workspaces set-key)", now=ops.now())
    print(f"{team_id}: Perf key set, ends in …{last_four(key)}; its jobs are now paid with it")
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
