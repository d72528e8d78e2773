"""Every row belongs to one workspace (issue 25): two workspaces with the same channel id and the same user id,
each action tried across them, and job ids of one used in the other. Whoever is in workspace B never sees,
starts from, cancels or approves anything of workspace A, and is answered as for a job that does not exist.

Requests of the second workspace go through the bot as signed requests carrying its team id (the bot still
calls Slack with its one token: per-workspace tokens are the install part of #25). What no handler reaches
directly (claims, copies, the upgrade of an old database) is checked at the store, on both engines.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clients.slack import SlackUser
from bot.domain.defaults import Defaults
from bot.domain.job import JobState
from bot.domain.presets import Preset
from bot.domain.quotas import ChannelLimits, day_of
from bot.features.people import People
from storage.db import MIGRATIONS, Store
from storage.rows import INSERTED_COLUMNS, to_db
from storage.sql import insert_rows
from tests.conftest import (
    CHANNEL,
    USER,
    Bot,
    FakeClock,
    MakeBot,
    button_click_body,
    event_callback,
    private_text,
    reaction_event_body,
)
from tests.fakes.jobs import stored_job
from tests.test_approvals import LIMIT, run_for

A, B = "T0001", "T0002"  # the suite's workspace, and a second one with the same channel and people
BOB = "UBOB0002"
UNKNOWN_ID = "vb_zzzzzzzzzz"
DAY = (1_800_000_000.0 - 86_400, 1_800_000_000.0 + 86_400)


def _answer(response: Any) -> dict[str, Any]:
    """The ack's message ({} for a bare 200: the job was stored and nothing more is said)."""
    return dict(json.loads(response.body)) if response.body else {}


def _same_answer(text: str, job_id: str) -> str:
    """An answer with the job's id taken out: what a person could compare with the answer for a made-up id."""
    return text.replace(job_id, "<id>")


async def _delivered(bot: Bot, prompt: str = "A lighthouse in a storm") -> Any:
    assert (await bot.command(prompt)).status == 200
    await bot.run_jobs()
    [job] = [job for job in await bot.services.store.jobs() if job.prompt == prompt]
    assert job.state is JobState.DELIVERED and job.team_id == A and job.root_ts is not None
    return job


async def test_a_job_id_of_another_workspace_is_answered_as_an_unknown_job(make_bot: MakeBot) -> None:
    bot = await make_bot()
    done = await _delivered(bot)
    assert (await bot.command("A kite over the dunes")).status == 200  # stored, not run: still unfinished
    [running] = [job for job in await bot.services.store.jobs() if job.state is not JobState.DELIVERED]

    # show: the other workspace's answer is word for word the answer for an id that never existed.
    shown_in_b = private_text(await bot.command(f"show {done.id}", team=B))
    unknown = private_text(await bot.command(f"show {UNKNOWN_ID}", team=B))
    assert _same_answer(shown_in_b, done.id) == _same_answer(unknown, UNKNOWN_ID)
    assert _answer(await bot.command(f"show {done.id}"))["response_type"] == "in_channel"  # A's own: shown

    # history and status list nothing of A's in B, with the same channel and person.
    assert done.id not in json.dumps(_answer(await bot.command("history lighthouse", team=B)))
    assert done.id in json.dumps(_answer(await bot.command("history lighthouse")))
    assert running.id not in json.dumps(_answer(await bot.command("status", team=B)))
    assert running.id in json.dumps(_answer(await bot.command("status")))

    # cancel, typed or clicked, finds nothing in B and leaves A's job running.
    cancelled_in_b = private_text(await bot.command(f"cancel {running.id}", team=B))
    unknown = private_text(await bot.command(f"cancel {UNKNOWN_ID}", team=B))
    assert _same_answer(cancelled_in_b, running.id) == _same_answer(unknown, UNKNOWN_ID)
    click = button_click_body(
        "1.1", running.id, user=USER, action_id="cancel", response_url=bot.slack.response_url("b"), team=B
    )
    await bot.interaction(click)
    details = button_click_body(
        "1.1", done.id, user=USER, action_id="details", response_url=bot.slack.response_url("d"), team=B
    )
    await bot.interaction(details)
    answered = {url: body for url, body in bot.slack.responses}
    assert "There is no job" in answered["b"]["text"] and "There is no job" in answered["d"]["text"]
    assert done.prompt not in json.dumps(answered["d"])
    still = await bot.services.store.get_job(running.id, team_id=A)
    assert still is not None and still.state is not JobState.CANCELLED

    # The same command in A cancels it: the refusals above were the workspace's, not the person's.
    await bot.command(f"cancel {running.id}")
    cancelled = await bot.services.store.get_job(running.id, team_id=A)
    assert cancelled is not None and cancelled.state is JobState.CANCELLED


async def test_reruns_remixes_and_takes_of_another_workspace_start_nothing(make_bot: MakeBot) -> None:
    bot = await make_bot(showcase_channel="CSHOW0001")
    done = await _delivered(bot)
    root_ts = done.root_ts

    await bot.event(reaction_event_body(root_ts, user=BOB, event_id="EvB1", team=B))
    rerun = button_click_body(root_ts, done.id, user=BOB, action_ts="1700001000.2", team=B)
    await bot.interaction(rerun)
    full = button_click_body(root_ts, done.id, user=BOB, action_id="full_version", action_ts="1700001000.3", team=B)
    await bot.interaction(full)
    await bot.interaction(button_click_body(root_ts, done.id, user=BOB, action_id="remix", team=B))
    await bot.event(reaction_event_body(root_ts, reaction="star", user=BOB, event_id="EvB2", team=B))
    await bot.step()
    assert [job.id for job in await bot.services.store.jobs()] == [done.id]
    assert bot.slack.opened_with == []  # no remix form
    assert await bot.services.store.take_post(B, "showcase", done.id) is None
    assert await bot.services.store.take_post(A, "showcase", done.id) is None
    assert bot.slack.roots("CSHOW0001") == []

    # The same reaction in A reruns it: what B did was refused for its workspace alone.
    await bot.event(reaction_event_body(root_ts, user=BOB, event_id="EvA1"))
    assert len(await bot.services.store.jobs()) == 2


async def test_an_approver_of_another_workspace_cannot_decide_even_with_the_job_id(make_bot: MakeBot) -> None:
    bot = await make_bot(approval_over_micros=LIMIT, approvers=(BOB,), approval_channel="CAPPROVE1")
    await bot.command("A lighthouse in a storm --model veo-3 --duration 8")
    await run_for(bot)
    [job] = await bot.services.store.jobs()
    assert job.state is JobState.AWAITING_APPROVAL
    [copy] = bot.slack.roots("CAPPROVE1")

    for action in ("approval_approve", "approval_deny"):
        body = button_click_body(
            copy.ts, job.id, user=BOB, channel="CAPPROVE1", action_id=action, response_url="", team=B
        )
        await bot.interaction(body)
    answer, found = await bot.services.approvals.approve(B, job.id, BOB)
    assert found is None and answer.value == "not_found"
    waiting = await bot.services.store.get_job(job.id, team_id=A)
    assert waiting is not None and waiting.state is JobState.AWAITING_APPROVAL and waiting.approval is None

    answer, found = await bot.services.approvals.approve(A, job.id, BOB)
    assert found is not None and answer.value == "decided"


async def test_the_same_channel_and_person_in_two_workspaces_have_their_own_quota(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=1)
    assert (await bot.command("A heron at dawn")).status == 200
    refused = _answer(await bot.command("A second heron"))
    assert refused.get("response_type") == "ephemeral"  # A's channel has had its one job today
    assert _answer(await bot.command("A heron at dawn", team=B)) == {}  # B's channel of the same id has not
    jobs = await bot.services.store.jobs()
    assert sorted(job.team_id for job in jobs) == [A, B]
    today = bot.services.quotas.today(bot.clock.now()).bounds
    for team in (A, B):
        usage = await bot.services.store.usage(team, CHANNEL, USER, today)
        assert (usage.channel_jobs, usage.user_jobs) == (1, 1)
        assert len(await bot.services.store.jobs(team_id=team)) == 1


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def test_what_a_workspace_sets_stays_its_own(store: Store) -> None:
    defaults = Defaults({"model": "veo-3"}, USER, 1.0)
    await store.set_defaults(A, "channel", CHANNEL, defaults)
    await store.set_defaults(A, "person", USER, defaults)
    assert await store.defaults_for(B, CHANNEL, USER) == (None, None)
    await store.set_defaults(B, "person", USER, Defaults({"model": "pika"}, USER, 2.0))
    mine_in_a, channel_in_a = await store.defaults_for(A, CHANNEL, USER)
    assert mine_in_a is not None and mine_in_a.options == {"model": "veo-3"} and channel_in_a is not None
    assert not await store.clear_defaults(B, "channel", CHANNEL)
    assert (await store.defaults_for(A, CHANNEL, USER))[1] is not None

    await store.save_preset(A, USER, Preset("noir", "person", {"style": "noir"}, USER, 1.0))
    assert await store.presets_for(B, CHANNEL, USER) == []
    assert not await store.delete_preset(B, "person", USER, "noir")
    assert [p.name for p in await store.presets_for(A, CHANNEL, USER)] == ["noir"]

    await store.set_channel_limits(A, CHANNEL, ChannelLimits(1, None, USER, 1.0))
    assert await store.channel_limits(B, CHANNEL) is None
    assert await store.channels_limits(B, [CHANNEL]) == {}
    assert (await store.channels_limits(A, [CHANNEL]))[CHANNEL].daily_jobs == 1

    await store.home_opened(A, USER, 1.0)
    assert await store.has_home(A, USER) and not await store.has_home(B, USER)

    # Claims once per workspace: B's report of the same channel and day, and its notice, are B's to post.
    assert await store.claim_report(A, "channel", CHANNEL, "2026-12-03", 1.0)
    assert await store.claim_report(B, "channel", CHANNEL, "2026-12-03", 1.0)
    assert not await store.claim_report(B, "channel", CHANNEL, "2026-12-03", 2.0)
    assert await store.claim_notice(A, "channel_month", CHANNEL, "2026-12", 1.0)
    assert await store.claim_notice(B, "channel_month", CHANNEL, "2026-12", 1.0)


async def test_jobs_and_what_hangs_off_them_are_read_within_their_workspace(store: Store) -> None:
    now = 1_800_000_000.0
    in_a = stored_job(created_at=now, prompt="A lighthouse", root_ts="1.5", spend_day=DAY[0], perf_job_id="p1")
    in_b = stored_job(created_at=now + 1, team_id=B, prompt="A kite", root_ts="1.5", spend_day=DAY[0])
    # The same trigger in each workspace starts a job in each (a trigger is its workspace's).
    assert await store.insert_job(in_a, trigger="form:V1")
    assert await store.insert_job(in_b, trigger="form:V1")
    assert not await store.insert_job(stored_job(created_at=now + 2, team_id=B), trigger="form:V1")
    await store.index_words(in_a)
    await store.index_words(in_b)

    assert await store.get_job(in_a.id, team_id=B) is None
    assert (found := await store.get_job(in_a.id, team_id=A)) is not None and found.id == in_a.id
    by_root = await store.job_by_root(B, CHANNEL, "1.5")
    assert by_root is not None and by_root.id == in_b.id  # the same channel and ts: each workspace's own
    assert [job.id for job in await store.history(B, USER, ["lighthouse"], 10)] == []
    assert [job.id for job in await store.history(A, USER, ["lighthouse"], 10)] == [in_a.id]
    assert [job.id for job in await store.recent_jobs_of(B, USER, 10)] == [in_b.id]
    assert [job.id for job in await store.jobs(team_id=A, channel_id=CHANNEL)] == [in_a.id]
    assert await store.workspaces_used(DAY) == [A, B]
    assert await store.channels_used(A, DAY) == [CHANNEL]
    assert (await store.channel_usage(B, DAY))[CHANNEL][0] == 1
    assert (await store.spent(A, "workspace", "", DAY)).jobs == 1
    assert (await store.spent(B, "user", USER, DAY)).cost_micros == in_b.estimated_cost_micros
    assert [key for key, _ in await store.spent_by_id(B, "channel", DAY)] == [CHANNEL]
    assert (await store.scrape_counts(DAY)).by_state == {"accepted": 2}  # /metrics: every workspace, summed
    exported = [row.job_id async for batch in store.export_batches(None, team_id=B) for row in batch]
    assert exported == [in_b.id]

    await store.add_approval_copy(A, in_a.id, "CAPPROVE1", "9.9")
    assert await store.approval_copies(B, in_a.id) == []
    assert await store.approval_copies(A, in_a.id) == [("CAPPROVE1", "9.9")]

    claim = await store.claim_take_post(A, "showcase", in_a.id, "CSHOW", USER, now, 60.0)
    assert claim is not None and claim.team_id == A
    await store.take_posted(A, "showcase", in_a.id, "7.7", now)
    assert await store.latest_takes(B, "showcase", 5) == []
    assert [take.job_id for take in await store.latest_takes(A, "showcase", 5)] == [in_a.id]


async def test_the_people_cache_keeps_the_same_user_id_of_two_workspaces_apart() -> None:
    class Slack:
        def __init__(self) -> None:
            self.asked = 0

        async def user_info(self, user_id: str, priority: Any) -> SlackUser:
            self.asked += 1
            first = self.asked == 1
            return SlackUser(
                user_id, is_bot=False, deleted=False, is_admin=first, is_owner=False, name=f"p{self.asked}"
            )

    slack = Slack()
    people = People(slack, FakeClock())  # type: ignore[arg-type]
    first = await people.get(USER, team_id=A)
    second = await people.get(USER, team_id=B)
    assert first.runs_the_workspace and not second.runs_the_workspace  # A's admin is not B's
    assert (await people.get(USER, team_id=A)).name == "p1" and slack.asked == 2


def _workspace_migration() -> int:
    """The number of the migration that put the workspace in every key (others may be appended after it)."""
    return next(n for n, script in enumerate(MIGRATIONS, start=1) if "Every row belongs to one workspace" in script)


async def _store_before_the_workspace(database_url: str, *teams: str, state: JobState = JobState.DELIVERED) -> Store:
    """A database one migration short of the workspace in every key, with a job of each of `teams` and the
    rows of a channel and a person that were keyed by their ids alone."""
    store = await Store.open(database_url, migrate=False)
    await store._engine.migrate(MIGRATIONS[: _workspace_migration() - 1])
    jobs = [
        stored_job(created_at=1_800_000_000.0 + n, team_id=team, spend_day=DAY[0], state=state)
        for n, team in enumerate(teams)
    ]
    # The jobs table as it was then: without the columns later migrations add.
    later = {
        column
        for migration in MIGRATIONS[_workspace_migration() - 1 :]
        for column in re.findall(r"ALTER TABLE jobs ADD COLUMN (\w+)", migration)
    }
    columns = [c for c in INSERTED_COLUMNS if c not in later]
    rows = [[*(to_db(c, getattr(job, c)) for c in columns), n + 1] for n, job in enumerate(jobs)]
    async with store._engine.transaction() as db:
        await db.batch(*insert_rows("jobs", (*columns, "arrival"), rows))
        await db.batch(
            *insert_rows("job_words", ("user_id", "word", "created_at", "job_id"), [(USER, "w", 1.0, jobs[0].id)])
            if jobs
            else [],
            (
                "INSERT INTO video_defaults (scope, owner_id, options, set_by, set_at) VALUES (?, ?, ?, ?, ?)",
                ("channel", CHANNEL, '{"model": "veo-3"}', USER, 1.0),
            ),
            (
                "INSERT INTO channel_limits (channel_id, daily_jobs, set_by, set_at) VALUES (?, ?, ?, ?)",
                (CHANNEL, 3, USER, 1.0),
            ),
            *insert_rows("job_counts", ("state", "jobs", "submitted"), [(state.value, len(jobs), 0)] if jobs else []),
            *insert_rows(
                "line_parties",
                ("party", "waiting", "running", "turn"),
                [(USER, len(jobs), 0, 5)] if jobs and state is JobState.QUEUED else [],
            ),
            *insert_rows(
                "spend_days",
                ("scope", "scope_id", "day", "jobs", "cost_micros"),
                [("workspace", "", DAY[0], len(jobs), sum(job.estimated_cost_micros for job in jobs))] if jobs else [],
            ),
        )
    return store


async def test_an_upgrade_gives_the_rows_of_a_one_workspace_deployment_to_its_workspace(
    database_url: str,
) -> None:
    store = await _store_before_the_workspace(database_url, A, A)
    try:
        await store.migrate()
        assert await store.schema_version() == len(MIGRATIONS)
        assert (await store.defaults_for(A, CHANNEL, USER))[1] is not None
        limits = await store.channel_limits(A, CHANNEL)
        assert limits is not None and limits.daily_jobs == 3
        assert len(await store.history(A, USER, ["w"], 10)) == 1
        assert (await store.spent(A, "workspace", "", DAY)).jobs == 2
        assert (await store.scrape_counts(DAY)).by_state == {"delivered": 2}
        assert await store.unadopted_rows() == 0
    finally:
        await store.close()


async def test_rows_of_an_unknown_workspace_wait_for_the_next_start_in_single_mode(database_url: str) -> None:
    store = await _store_before_the_workspace(database_url)  # no job yet: the jobs name no workspace
    try:
        await store.migrate()
        assert await store.defaults_for(A, CHANNEL, USER) == (None, None)
        assert await store.unadopted_rows() == 2
        assert await store.adopt_rows_from_jobs() == 0  # still no job to name it
        assert await store.adopt_rows(A) == 2  # the bot token's team, at the next start
        assert (await store.defaults_for(A, CHANNEL, USER))[1] is not None
        assert await store.channel_limits(A, CHANNEL) is not None and await store.unadopted_rows() == 0
    finally:
        await store.close()


async def test_rows_of_a_deployment_whose_jobs_name_two_workspaces_are_not_guessed(database_url: str) -> None:
    store = await _store_before_the_workspace(database_url, A, B, state=JobState.QUEUED)
    try:
        await store.migrate()
        assert await store.unadopted_rows() == 2 and await store.adopt_rows_from_jobs() == 0
        # The person's place in the fair line splits into the person of each workspace, keeping its turn.
        parties = {(p.key, p.waiting, p.turn) for p in await store.line_parties()}
        assert parties == {(f":{A}:{USER}", 1, 5), (f":{B}:{USER}", 1, 5)}  # the operator's line ("")
        assert (await store.scrape_counts(DAY)).by_state == {"queued": 2}
        assert (await store.spent(A, "workspace", "", DAY)).jobs == 1  # summed again per workspace
        assert (await store.spent(B, "workspace", "", DAY)).jobs == 1
    finally:
        await store.close()


async def test_the_same_user_id_in_two_workspaces_is_two_parties_to_the_fair_line(store: Store) -> None:
    now = 1_800_000_000.0
    in_a = [stored_job(created_at=now + n, state=JobState.QUEUED) for n in range(3)]
    in_b = stored_job(created_at=now + 3, team_id=B, state=JobState.QUEUED)
    for job in (*in_a, in_b):
        assert await store.insert_job(job)
    parties = {party.key: party.waiting for party in await store.line_parties()}
    assert parties == {f":{A}:{USER}": 3, f":{B}:{USER}": 1}  # line:team:user, the operator's line
    # One person's burst in A does not hold back the person of the same id in B: B's job is second.
    places = await store.places_in_line([*in_a, in_b])
    assert places[in_b.id] == 2 and places[in_a[0].id] == 1


async def test_a_start_gives_waiting_rows_to_the_one_workspace_the_jobs_now_name(
    database_url: str, make_bot: MakeBot
) -> None:
    store = await _store_before_the_workspace(database_url)  # upgraded with no job: its rows wait
    try:
        await store.migrate()
        assert await store.insert_job(stored_job(created_at=1_800_000_000.0))  # then workspace A's first job
    finally:
        await store.close()
    bot = await make_bot()  # the next start
    assert await bot.services.store.unadopted_rows() == 0
    limits = await bot.services.quotas.limits(A, CHANNEL)
    assert limits.channel_has_own and limits.daily_jobs == 3


async def test_app_home_and_defaults_of_one_workspace_are_not_another_s(make_bot: MakeBot) -> None:
    bot = await make_bot()
    done = await _delivered(bot)
    assert (await bot.command("defaults me --model veo-3")).status == 200  # alice's, in workspace A

    # Alice of workspace B (the same user id) opens her App Home: none of A's jobs or spending.
    opened = event_callback(
        {"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "home"}, "EvHB", team=B
    )
    assert (await bot.event(opened)).status == 200
    await bot.services.home.wait_idle()
    [home_in_b] = bot.slack.homes[USER]
    assert done.prompt not in json.dumps(home_in_b) and done.id not in json.dumps(home_in_b)

    # Her new video in B starts from the catalogue's defaults, not from A's alice's.
    assert (await bot.command("A kite over the dunes", team=B)).status == 200
    [in_b] = await bot.services.store.jobs(team_id=B)
    assert in_b.model != "veo-3"
    assert (await bot.command("A kite over the dunes")).status == 200
    assert {job.model for job in await bot.services.store.jobs(team_id=A) if job.id != done.id} == {"veo-3"}


async def test_each_workspace_gets_its_own_daily_report_of_the_same_channel(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("A lighthouse")
    await bot.command("A glacier", user=BOB)
    await bot.command("A kite", team=B)
    await bot.run_jobs()
    bot.clock.t = day_of(bot.clock.t, "UTC").end + 9 * 3600  # the next day, 09:00
    assert await bot.services.reports.post_due_reports() == 2  # the channel of each workspace, once
    assert await bot.services.reports.post_due_reports() == 0
    reports = sorted(m.all_text() for m in bot.slack.roots(CHANNEL) if "📊" in m.text)
    assert len(reports) == 2
    assert "Jobs: 1 · delivered 1" in reports[0] + reports[1] and "Jobs: 2 · delivered 2" in reports[0] + reports[1]
