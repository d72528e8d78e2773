"""Which Perf key pays (issue 25): a workspace's own key creates, polls and finishes its jobs; a workspace
without one uses the operator's PERF_API_KEY; with no key at all, every way of starting a job answers
privately how an admin adds one, and nothing is stored or sent to Perf. On both engines."""

from __future__ import annotations

from bot.clients.perf import KeyCheck, PerfClient
from bot.domain.job import JobState
from storage.secrets import Workspace, generate_key
from storage.workspaces import WorkspaceStore
from tests.conftest import CHANNEL, USER, Bot, MakeBot, private_text, slash_command_body
from tests.fakes.perf import API_KEY, FakePerf
from tests.test_form import state, submission
from tests.test_remix import open_remix
from tests.test_remix import submission as remix_submission
from tests.test_reruns import BOB, finished_job
from tests.test_shortcuts import message_shortcut
from tests.test_workflow_step import step_executed

ACME_KEY = "pk_live_acme_own_key_00004f2a"
GLOBEX_KEY = "pk_live_globex_own_key_0009b1c"
ENCRYPTION_KEY = generate_key()


def workspaces_of(bot: Bot) -> WorkspaceStore:
    store = bot.services.jobs.keys.workspaces
    assert store is not None
    return store


async def command_from(bot: Bot, team_id: str, text: str, *, user: str = USER) -> str:
    body = slash_command_body(text, user=user, response_url=bot.slack.response_url())
    body = body.replace("team_id=T0001", f"team_id={team_id}")
    from tests.conftest import bolt_request, signed_headers

    response = await bot.bolt.async_dispatch(bolt_request(body, signed_headers(body)))
    return private_text(response) if response.body else ""


async def test_each_workspace_pays_with_its_own_key_and_one_without_with_the_operators(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    bot.perf.add_key(ACME_KEY)
    bot.perf.add_key(GLOBEX_KEY)
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0001"), ACME_KEY, set_by="UADMIN", now=1.0)
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0002"), GLOBEX_KEY, set_by="UADMIN", now=1.0)

    await command_from(bot, "T0001", "An acme lighthouse")
    await command_from(bot, "T0002", "A globex lighthouse")
    await command_from(bot, "T0003", "A lighthouse on the operator")
    await bot.run_jobs()

    assert bot.perf.creates_by_key == {ACME_KEY: 1, GLOBEX_KEY: 1, API_KEY: 1}
    # Polled with the key that created each (Perf finds a job only under its own account): all delivered.
    jobs = await bot.services.store.jobs()
    assert sorted(job.state for job in jobs) == [JobState.DELIVERED] * 3
    assert bot.perf.unauthorized == 0


async def test_without_the_encryption_key_the_operators_key_pays_for_everyone(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert bot.services.jobs.keys.workspaces is None
    await command_from(bot, "T0002", "A lighthouse")
    await bot.run_jobs()
    assert bot.perf.creates_by_key == {API_KEY: 1}


async def test_a_key_perf_refuses_at_submission_fails_the_job_with_what_an_admin_can_do(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    # Stored (say, before Perf revoked it), but Perf does not know it.
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0001"), "pk_live_revoked_key_0000dead", set_by="U", now=1.0)
    await command_from(bot, "T0001", "A lighthouse")
    await bot.run_jobs()
    job = await bot.only_job()
    assert job.state == JobState.FAILED and bot.perf.creates == []
    assert "Perf refused this workspace's API key" in (job.error_message or "")
    assert "App Home" in (job.error_message or "")


NO_KEY = "this workspace has no Perf API key yet"


async def no_key_bot(make_bot: MakeBot) -> Bot:
    return await make_bot(perf_api_key="", encryption_key=ENCRYPTION_KEY)


def nothing_stored_or_sent(perf: FakePerf) -> None:
    assert perf.create_requests == 0 and perf.creates == []


async def test_with_no_key_at_all_the_command_answers_how_an_admin_adds_one(make_bot: MakeBot) -> None:
    bot = await no_key_bot(make_bot)
    answer = await command_from(bot, "T0001", "A lighthouse")
    assert NO_KEY in answer and "Set the Perf key" in answer and "videobot workspaces set-key" in answer
    # A comparison too.
    answer = await command_from(bot, "T0001", "A lighthouse --models pika,veo-3")
    assert NO_KEY in answer
    await bot.run_jobs()
    assert await bot.services.store.jobs() == []
    nothing_stored_or_sent(bot.perf)
    # Once the workspace has a key of its own, the same command starts a job.
    bot.perf.add_key(ACME_KEY)
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0001"), ACME_KEY, set_by="UADMIN", now=1.0)
    bot.services.jobs.keys.forget("T0001")
    assert NO_KEY not in await command_from(bot, "T0001", "A lighthouse")
    await bot.run_jobs()
    assert bot.perf.creates_by_key == {ACME_KEY: 1}


async def test_with_no_key_the_form_and_the_message_shortcut_answer_on_the_form(make_bot: MakeBot) -> None:
    bot = await no_key_bot(make_bot)
    response = await bot.interaction(submission(state()))
    assert response.status == 200
    assert NO_KEY in str(response.body)
    # The message shortcut opens the same form: its submission is refused the same way.
    assert (await bot.interaction(message_shortcut())).status == 200
    view_id = max(bot.slack.views)
    response = await bot.interaction(submission(state(), view_id=view_id))
    assert NO_KEY in str(response.body)
    await bot.run_jobs()
    assert await bot.services.store.jobs() == []
    nothing_stored_or_sent(bot.perf)


async def test_with_no_key_a_workflow_step_fails_with_how_to_add_one(make_bot: MakeBot) -> None:
    bot = await no_key_bot(make_bot)
    await bot.event(step_executed(bot))
    how, detail = bot.slack.ended_steps["Fx0001"]
    assert how == "error" and NO_KEY in detail["error"]
    assert await bot.services.store.jobs() == []
    nothing_stored_or_sent(bot.perf)


async def test_with_no_key_left_a_rerun_and_a_remix_answer_privately(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    root = await finished_job(bot)
    view_id, view = await open_remix(bot, root)
    # The operator stops paying for everyone (a restart without PERF_API_KEY); the workspace has no key.
    bot = await make_bot(perf_api_key="", encryption_key=ENCRYPTION_KEY)
    from tests.conftest import reaction_event_body

    await bot.event(reaction_event_body(root.ts, user=BOB))
    await bot.run_jobs()
    [(channel, user, text)] = bot.slack.ephemerals
    assert (channel, user) == (CHANNEL, BOB) and NO_KEY in text

    response = await bot.interaction(remix_submission(view_id, view, prompt="A lighthouse at dawn"))
    assert NO_KEY in str(response.body)
    await bot.run_jobs()
    assert len(await bot.services.store.jobs()) == 1  # the original only
    assert len(bot.perf.creates) == 1


async def test_the_client_checks_a_key_with_perf_without_creating_anything(fake_perf: FakePerf) -> None:
    perf = PerfClient(PerfClient.make_http_client(fake_perf.api_url))
    try:
        fake_perf.add_key(ACME_KEY)
        assert await perf.check_key(ACME_KEY) == KeyCheck.ACCEPTED
        assert await perf.check_key("pk_live_nobody_knows_this_key") == KeyCheck.REFUSED
        assert fake_perf.create_requests == 0
    finally:
        await perf.aclose()


# --- one account line per key ----------------------------------------------------------------------------


def started(perf: FakePerf) -> list[str]:
    return [str(c["prompt"]) for c in perf.creates]


async def test_two_workspaces_with_their_own_keys_never_wait_on_each_other(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY, max_concurrent_jobs=1)
    for team, key in (("T0001", ACME_KEY), ("T0002", GLOBEX_KEY)):
        bot.perf.add_key(key)
        await workspaces_of(bot).set_perf_key(Workspace(None, team), key, set_by="UADMIN", now=1.0)
    bot.perf.hold()  # every job stays at Perf, holding its key's one slot
    await command_from(bot, "T0001", "Acme 1")
    await command_from(bot, "T0001", "Acme 2")
    await command_from(bot, "T0002", "Globex 1")
    await bot.step()
    await bot.step()

    # Acme's burst fills Acme's one slot; Globex's job has a slot of its own key at once.
    assert sorted(started(bot.perf)) == ["Acme 1", "Globex 1"]
    assert bot.perf.running_with(ACME_KEY) == 1 and bot.perf.running_with(GLOBEX_KEY) == 1
    waiting = [job for job in await bot.services.store.jobs() if job.state == JobState.QUEUED]
    assert [(job.prompt, job.line) for job in waiting] == [("Acme 2", "T0001")]
    bot.perf.release()
    await bot.run_jobs()
    assert bot.perf.most_running_by_key == {ACME_KEY: 1, GLOBEX_KEY: 1}
    assert sorted(job.state for job in await bot.services.store.jobs()) == [JobState.DELIVERED] * 3


async def test_workspaces_sharing_the_operators_key_share_its_slots_fairly(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY, max_concurrent_jobs=1)
    bot.perf.add_key(ACME_KEY)
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0003"), ACME_KEY, set_by="UADMIN", now=1.0)
    for n in range(1, 5):
        await command_from(bot, "T0001", f"Acme {n}", user="UALICE01")
    await command_from(bot, "T0002", "Globex 1", user="UBOB0002")
    # A third workspace with its own key is in neither's way.
    await command_from(bot, "T0003", "Own key 1", user="UCAROL03")
    await bot.run_jobs()

    operator = [prompt for prompt in started(bot.perf) if not prompt.startswith("Own")]
    # Globex's single job goes second, not after Acme's burst.
    assert operator == ["Acme 1", "Globex 1", "Acme 2", "Acme 3", "Acme 4"]
    assert bot.perf.most_running_by_key[API_KEY] == 1
    assert bot.perf.creates_by_key[ACME_KEY] == 1


async def test_a_job_is_polled_with_the_key_of_the_line_it_was_admitted_in(make_bot: MakeBot) -> None:
    bot = await make_bot(encryption_key=ENCRYPTION_KEY)
    await command_from(bot, "T0001", "On the operator")
    await bot.step()  # created with the operator's key
    # The workspace adds its own key meanwhile: the job at Perf is still the operator account's.
    bot.perf.add_key(ACME_KEY)
    await workspaces_of(bot).set_perf_key(Workspace(None, "T0001"), ACME_KEY, set_by="UADMIN", now=1.0)
    bot.services.jobs.keys.forget("T0001")
    await command_from(bot, "T0001", "On its own key")
    await bot.run_jobs()
    assert bot.perf.creates_by_key == {API_KEY: 1, ACME_KEY: 1}
    assert sorted(job.state for job in await bot.services.store.jobs()) == [JobState.DELIVERED] * 2
