"""The polling loop: an APScheduler interval job that advances only the jobs that are due.

Each tick leases the rows with `next_poll_at <= now` that no replica holds (an indexed range scan, so
thousands of jobs that are not due cost nothing) and hands them to `JobService.advance` with bounded
concurrency. A lease names this replica and lasts `lease_seconds`; ticks renew the leases of steps still
running, so a slow step keeps its job, and a replica that died loses its jobs to the others once its
leases run out. Each step ends by releasing its lease: any replica may take the job's next step.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.clients.acks_first import AcksFirst, in_background
from bot.clients.pacing import set_stepping_aside
from bot.clients.slack_workspaces import WorkspaceRef, acting_for
from bot.domain.clock import Clock
from bot.domain.job import Job
from bot.jobs.service import JobService
from bot.jobs.step_slots import StepSlots
from storage.db import Store

log = logging.getLogger("videobot.poller")

_JOB_ID = "videobot-poll"
MIN_WAKE_GAP_SECONDS = 0.025
# A tick writes this replica's heartbeat at most this often (every tick while writes fail), so health says
# whether the database takes writes, not only whether it answers a read; a replica silent a day is forgotten.
HEARTBEAT_SECONDS = 5.0
FORGET_REPLICAS_AFTER_SECONDS = 86_400.0


class Poller:
    def __init__(
        self,
        store: Store,
        jobs: JobService,
        clock: Clock,
        tick_seconds: float,
        concurrency: int,
        lease_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._leases_renewed_at = float("-inf")
        # Unique per process run: a restarted replica does not inherit the leases of the one that died.
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._jobs = jobs
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._concurrency = concurrency
        self._slots = StepSlots(concurrency)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._tick_lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._scheduled_runs: set[asyncio.Task[object]] = set()
        self._accepting = True
        # Set by stop(): a tick waiting for the acknowledgements to go first stops waiting, and takes nothing.
        self._stopping = asyncio.Event()
        self.last_tick_at: float | None = None  # when the last tick started
        self.last_tick_completed_at: float | None = None
        self.last_write_ok_at: float | None = None  # the last heartbeat the database took
        self.last_write_failed_at: float | None = None
        self.last_write_error = ""  # the exception's type, never its text (it may hold a path or a value)
        self._write_failed_last = False
        self._heartbeat_due = float("-inf")
        self._backlog = False  # the last tick had no room for every due job
        # Slack's requests go first: a tick waits for a quiet moment before it claims steps, and the steps'
        # own calls out wait for one too (bot/clients/acks_first.py).
        self.acks = AcksFirst()
        self._wakes: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None
        self._daily: list[tuple[tuple[int, int], str, Callable[[], Awaitable[object]]]] = []
        self._every: list[tuple[float, Callable[[], Awaitable[object]]]] = []

    def run_daily(self, at: tuple[int, int], timezone: str, task: Callable[[], Awaitable[object]]) -> None:
        """Run `task` every day at `at` (hour, minute) in `timezone`, and once at start to catch up."""
        self._daily.append((at, timezone, task))

    def run_every(self, seconds: float, task: Callable[[], Awaitable[object]]) -> None:
        """Run `task` every `seconds`, first one period after start (a task that finishes what a dead
        process left: it must wait at least the lease anyway)."""
        self._every.append((seconds, task))

    def scheduled_tasks(self) -> list[Callable[[], Awaitable[object]]]:
        return [task for _, _, task in self._daily]

    def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(
            self._guarded(self.tick),
            "interval",
            seconds=self._tick_seconds,
            id=_JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        for (hour, minute), timezone, task in self._daily:
            guarded = self._guarded(task)
            self._scheduler.add_job(
                guarded,
                CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(timezone)),
                coalesce=True,
                misfire_grace_time=3600,
            )
            # A report missed while the bot was down goes out once it is back; the task knows what is due.
            self._scheduler.add_job(guarded, next_run_time=datetime.now(UTC))
        for seconds, task in self._every:
            self._scheduler.add_job(self._guarded(task), "interval", seconds=seconds, max_instances=1, coalesce=True)
        self._scheduler.start()

    def _guarded(self, task: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """`task` as the scheduler runs it: a failure is one log line, and a stop is not a failure."""
        name = getattr(task, "__name__", "?")

        async def run() -> None:
            current = asyncio.current_task()
            in_background(self.acks)
            if current is not None:
                self._scheduled_runs.add(current)
            try:
                await task()
            except asyncio.CancelledError:
                # Cancelled by stop(): APScheduler would log this as the job raising, with a traceback.
                log.info("event=scheduled_task_stopped task=%s", name)
            except Exception as exc:
                log.exception("event=scheduled_task_failed task=%s error=%s", name, type(exc).__name__)
            finally:
                if current is not None:
                    self._scheduled_runs.discard(current)

        return run

    def healthy(self) -> bool:
        """True while ticks keep completing and the database takes writes (a stuck loop, a failing step
        or a full disk shows up in /healthz)."""
        return self.ticks_completing() and not self.writes_failing()

    def ticks_completing(self) -> bool:
        if self.last_tick_completed_at is None or not self._accepting:
            return False
        return self._clock.now() - self.last_tick_completed_at < max(30.0, 10 * self._tick_seconds)

    def writes_failing(self) -> bool:
        """The last heartbeat the database was asked to take, it refused."""
        return self._write_failed_last

    def wake(self) -> None:
        """Run a tick now rather than at the next interval (a new job should not wait a second)."""
        # One pending wake is enough: a burst of 200 commands needs one tick, not 200 queued behind a lock.
        if self._accepting and not self._wakes:
            task = asyncio.get_running_loop().create_task(self.tick())
            # Held until done: a task nobody references can be garbage-collected mid-run.
            self._wakes.add(task)
            task.add_done_callback(self._wakes.discard)

    async def tick(self) -> None:
        if not self._accepting:
            return
        async with self._tick_lock:
            await self.acks.quiet(self._stopping)
            if not self._accepting:
                # stop() came while this tick waited: a step claimed now would only be cut off by the grace.
                return
            self.last_tick_at = self._clock.now()
            await self._heartbeat(self.last_tick_at)
            await self._tick()
            # Only a tick that got through its work counts: one failing on every write is no sign of life.
            self.last_tick_completed_at = self._clock.now()

    async def _heartbeat(self, now: float) -> None:
        if now < self._heartbeat_due:
            return
        try:
            await self._store.heartbeat(self.replica, now, FORGET_REPLICAS_AFTER_SECONDS)
        except Exception as exc:
            if not self.writes_failing():
                log.error("event=database_writes_failing replica=%s error=%s", self.replica, type(exc).__name__)
            self.last_write_failed_at, self.last_write_error = now, type(exc).__name__
            self._write_failed_last = True
            return  # tried again next tick, so health comes back as soon as writes do
        if self.writes_failing():
            log.warning("event=database_writes_recovered replica=%s", self.replica)
        self.last_write_ok_at, self.last_write_error = now, ""
        self._write_failed_last = False
        self._heartbeat_due = now + HEARTBEAT_SECONDS

    async def _tick(self) -> None:
        """The work of one tick: the account's line, the leases, the jobs due."""
        await self._jobs.wake_queue()
        now = self._clock.now()
        # Every quarter lease, not every tick: a lease past half its length is still renewed with about
        # a quarter left (ticks are far shorter than leases), and a busy replica pays no write per tick.
        if self._in_flight and now - self._leases_renewed_at >= self._lease_seconds / 4:
            self._leases_renewed_at = now
            await self._store.renew_leases(self.replica, now, self._lease_seconds)
        room = self._concurrency * 4 - (len(self._in_flight) - self._slots.aside)
        if room <= 0:
            self._backlog = True
            return
        due = await self._store.claim_due(self._clock.now(), room, self.replica, self._lease_seconds)
        # A full claim may have left due jobs behind: the next step to finish makes room and wakes for them.
        self._backlog = len(due) == room
        for job in due:
            self._in_flight[job.id] = asyncio.create_task(self._advance(job), name=f"job-{job.id}")
        next_due = await self._store.next_due_at()
        self._wake_for(next_due)

    async def _advance(self, job: Job) -> None:
        try:
            in_background(self.acks)
            # Its database writes too (on PostgreSQL a slot claim takes the admission lock) wait for the acks.
            await self.acks.quiet(self._stopping)
            slot = await self._slots.take()
            set_stepping_aside(slot.aside)
            try:
                # Its Slack calls are its workspace's: that workspace's token (looked up as each call is
                # sent) and its pacing buckets.
                # Its Grid org is the job's own (no in-memory map): an org-wide install serves it after a restart.
                with acting_for(WorkspaceRef(team_id=job.team_id, enterprise_id=job.enterprise_id)):
                    await self._jobs.advance(job)
            finally:
                slot.give_back()
        finally:
            try:
                if not await self._store.release_lease(job, self.replica):
                    log.warning("job=%s event=lease_lost replica=%s", job.id, self.replica)
            except Exception as exc:
                # The lease then runs out by itself and the job's next step waits that long.
                log.warning("job=%s event=lease_release_failed error=%s", job.id, type(exc).__name__)
            finally:
                # Once the lease is released, a tick may already have handed the job to a new task: that
                # one is tracked now, not this.
                if self._in_flight.get(job.id) is asyncio.current_task():
                    del self._in_flight[job.id]
            if self._backlog:
                # Without this, jobs left behind by a full tick waited for the next interval, so a backlog
                # drained at one tick's worth of jobs a second.
                self._backlog = False
                self._wake_for(self._clock.now())
            self._wake_for(job.next_poll_at)

    def _wake_for(self, due: float | None) -> None:
        """Tick when the next job is due, not up to a whole interval later (delivery lag, fresh progress).

        One timer at most, moved only earlier, and never closer than MIN_WAKE_GAP_SECONDS: thousands of
        jobs due at scattered moments cost a few ticks a second, not one tick each.
        """
        if self._scheduler is None or due is None or not self._accepting:
            return
        delay = due - self._clock.now()
        if delay >= self._tick_seconds or (self._timer_due is not None and self._timer_due <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        # A few ms late rather than early: a job that is not yet due would wait for the next tick.
        self._timer = asyncio.get_running_loop().call_later(max(MIN_WAKE_GAP_SECONDS, delay) + 0.005, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_due = None, None
        self.wake()

    async def wait_idle(self) -> None:
        """Wait until no job is being advanced (tests use this after a tick; `JobService.wait_idle` waits
        for the progress posts and edits the steps left to the gateway)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking work, give the steps in flight `grace_seconds` to finish, then cancel them."""
        self._accepting = False
        self._stopping.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        # A scheduled run still going (the start-up maintenance, a report) stops here, while its log lines
        # still mean something, rather than being torn down with the loop.
        scheduled = [run for run in self._scheduled_runs if not run.done()]
        for run in scheduled:
            run.cancel()
        if scheduled:
            await asyncio.gather(*scheduled, return_exceptions=True)
        if self._wakes:
            await asyncio.gather(*self._wakes, return_exceptions=True)
        tasks = list(self._in_flight.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("event=shutdown_cancelled_steps count=%d", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        try:
            # The other replicas need not wait for these to run out.
            await self._store.release_all_leases(self.replica)
        except Exception as exc:
            log.warning("event=lease_release_failed replica=%s error=%s", self.replica, type(exc).__name__)
