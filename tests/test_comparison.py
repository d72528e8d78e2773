"""One prompt, several models (issue 28): `/video A paper boat --models pika,luma-dream-machine`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.job import JobState
from bot.domain.request import CommandError, ErrorCode, VideoRequest, comparison_takes, parse_video_command
from tests.conftest import CHANNEL, USER, MakeBot, private_text
from tests.fakes.slack import FakeMessage

BOB = "UBOB00001"


def block_text(message: FakeMessage) -> str:
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" or node.get("type") == "plain_text":
                texts.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return "\n".join(texts)


def buttons_of(message: FakeMessage) -> dict[str, str]:
    """Each button's action id and the job it acts on."""
    return {
        element["action_id"]: element["value"]
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


# --- what is asked ------------------------------------------------------------------------------------------


def test_models_give_one_take_each_with_the_same_settings_cut_to_each_model() -> None:
    parsed = parse_video_command("A paper boat --models pika,luma-dream-machine --duration 8 --ar 9:16")
    assert isinstance(parsed, VideoRequest)
    takes = comparison_takes(parsed)
    assert [(t.request.model, t.request.duration_seconds, t.request.aspect_ratio) for t in takes] == [
        ("pika", Decimal(4), "9:16"),
        ("luma-dream-machine", Decimal(8), "9:16"),
    ]
    assert [t.capped_from for t in takes] == [Decimal(8), None]


@pytest.mark.parametrize(
    "models",
    ["pika,veo-3", "pika, veo-3", "pika ,veo-3", '"pika, veo-3"', "“pika, veo-3”", "pika veo-3", "Pika,VEO-3"],
)
def test_the_models_may_be_listed_with_spaces_and_quotes(models: str) -> None:
    parsed = parse_video_command(f"A paper boat --models {models} --duration 4")
    assert isinstance(parsed, VideoRequest), parsed
    assert parsed.models == ("pika", "veo-3") and parsed.duration_seconds == 4


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A paper boat --models pika", ErrorCode.MODELS_COUNT),
        ("A paper boat --models pika,veo-3,luma-dream-machine,runway-gen3,pika", ErrorCode.MODELS_COUNT),
        ("A paper boat --models pika,sora", ErrorCode.UNKNOWN_MODEL),
        ("A paper boat --models pika,veo-3 --model pika", ErrorCode.MODELS_AND_MODEL),
        ("A paper boat --models pika,pika", ErrorCode.MODELS_REPEATED),
        ("A paper boat --models pika,veo-3 --draft", ErrorCode.MODELS_AND_DRAFT),
        ("A paper boat --models pika,veo-3 --duration 61", ErrorCode.DURATION_TOO_LONG),
        ("A paper boat --models pika, sora", ErrorCode.UNKNOWN_MODEL),
        ("A paper boat --models pika,veo-3 in the rain", ErrorCode.STRAY_TEXT),
    ],
)
def test_a_comparison_asked_wrong_is_one_clear_error(text: str, code: ErrorCode) -> None:
    parsed = parse_video_command(text)
    assert isinstance(parsed, CommandError) and parsed.code == code


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("A paper boat --models pika", "`--models` compares 2 to 4 models, and you gave 1"),
        ("A paper boat --models pika,veo-3,luma-dream-machine,runway-gen3,pika", "and you gave 5"),
        ("A paper boat --models pika,sora", "There is no model `sora`"),
        ("A paper boat --models pika,veo-3 --model pika", "Use `--model` for one video or `--models`"),
        ("A paper boat --models", "`--models` needs a value, e.g. `--models pika,luma-dream-machine`"),
        ("preset save duo --models pika,veo-3", "`--models` compares models for the one request it is typed in"),
        ("preset save duo --model pika --models pika,veo-3", "--preset teaser --models pika,luma-dream-machine"),
        ("defaults me --models pika,veo-3", "`--models` compares models for the one request it is typed in"),
    ],
)
async def test_bad_models_are_answered_privately_and_start_nothing(make_bot: MakeBot, text: str, answer: str) -> None:
    bot = await make_bot()
    assert answer in private_text(await bot.command(text))
    await bot.run_jobs()
    assert await bot.services.store.jobs() == [] and bot.perf.creates == []


async def test_help_tells_how_to_compare_models(make_bot: MakeBot) -> None:
    bot = await make_bot()
    assert "--models pika,luma-dream-machine" in private_text(await bot.command("help"))


# --- what is made -------------------------------------------------------------------------------------------


async def test_a_comparison_posts_one_take_per_model_linked_with_the_cost_of_the_whole(make_bot: MakeBot) -> None:
    bot = await make_bot()
    response = await bot.command("A paper boat --models pika,luma-dream-machine")
    assert response.status == 200 and response.body == ""
    await bot.run_jobs()

    assert sorted(c["model"] for c in bot.perf.creates) == ["luma-dream-machine", "pika"]
    jobs = {job.model: job for job in await bot.services.store.jobs()}
    assert all(job.state == JobState.DELIVERED for job in jobs.values())
    roots = {root.ts: root for root in bot.slack.roots(CHANNEL)}
    assert len(roots) == 2
    for model, job in jobs.items():
        root = roots[job.root_ts or ""]
        text = block_text(root)
        other = next(j for m, j in jobs.items() if m != model)
        # One cost line for the comparison ($0.268 + $0.24), and the other take named by model and id.
        assert "est. $0.51 for all 2" in text, text
        assert f"{other.model} `{other.id}`" in text, text
        # Its own Run again and Remix.
        assert buttons_of(root)["rerun"] == job.id and buttons_of(root)["remix"] == job.id


async def test_a_take_longer_than_its_model_makes_is_cut_with_a_note(make_bot: MakeBot) -> None:
    bot = await make_bot()
    note = private_text(await bot.command("A paper boat --models pika,luma-dream-machine --duration 8"))
    assert "pika makes videos of up to 4 s, so its take is 4 s (you asked for 8 s)" in note
    await bot.run_jobs()
    assert {c["model"]: c["duration_seconds"] for c in bot.perf.creates} == {"pika": 4, "luma-dream-machine": 8}


async def test_a_comparison_over_the_budget_is_refused_whole(make_bot: MakeBot) -> None:
    # Each take ($0.27 and $0.24) fits the $0.40 a day; the two together ($0.51) do not.
    bot = await make_bot(daily_jobs_per_channel=0, daily_budget_micros_per_channel=400_000)
    refused = private_text(await bot.command("A paper boat --models pika,luma-dream-machine"))
    assert "$0.40" in refused, refused
    await bot.run_jobs()
    assert await bot.services.store.jobs() == [] and bot.perf.creates == []
    # A lone take still fits: nothing of the comparison was counted.
    assert (await bot.command("A paper boat --model pika")).body == ""


async def test_a_comparison_counts_each_take_against_the_daily_jobs(make_bot: MakeBot) -> None:
    bot = await make_bot(daily_jobs_per_channel=2)
    assert (await bot.command("First --model pika")).body == ""
    refused = private_text(await bot.command("A paper boat --models pika,luma-dream-machine", user=BOB))
    assert "used" in refused and "2 jobs" in refused, refused
    await bot.run_jobs()
    assert [c["prompt"] for c in bot.perf.creates] == ["First"]


async def test_approval_counts_the_whole_comparison(make_bot: MakeBot) -> None:
    # $0.30 each is fine alone; the comparison's $0.51 needs an approver, for every take.
    bot = await make_bot(approval_over_micros=300_000, approvers=(BOB,))
    assert (await bot.command("A paper boat --models pika,luma-dream-machine")).status == 200
    await bot.step()
    jobs = await bot.services.store.jobs()
    assert len(jobs) == 2 and all(job.state == JobState.AWAITING_APPROVAL for job in jobs)
    assert bot.perf.creates == []


async def test_a_takes_approval_request_and_thread_name_the_comparisons_total_not_the_takes_price(
    make_bot: MakeBot,
) -> None:
    # Each take alone ($0.27, $0.24) is under the $0.30 limit: saying "$0.27 is over the $0.30 limit" is false.
    bot = await make_bot(approval_over_micros=300_000, approvers=(BOB,))
    await bot.command("A paper boat --models pika,luma-dream-machine")
    for _ in range(3):
        await bot.step()
    requests = bot.slack.roots(f"D{BOB}")
    assert len(requests) == 2
    for request in requests:
        text = request.all_text()
        assert "comparison of 2 models" in text and "$0.51 in all" in text, text
        assert "$0.27 is over" not in text and "$0.24 is over" not in text, text
    for root in bot.slack.roots(CHANNEL):
        [progress] = bot.slack.thread(CHANNEL, root.ts)
        assert "Waiting for approval: the comparison's $0.51 in all is over" in progress.text, progress.text


async def test_a_comparison_is_started_once_across_a_restart(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.services.poller.stop(0.0)  # the bot goes down right after acknowledging the command
    assert (await bot.command("A paper boat --models pika,luma-dream-machine,veo-3", user=USER)).body == ""
    restarted = await make_bot()
    await restarted.run_jobs()
    assert sorted(c["model"] for c in bot.perf.creates) == ["luma-dream-machine", "pika", "veo-3"]
    jobs = await restarted.services.store.jobs()
    assert len(jobs) == 3 and len({job.comparison for job in jobs}) == 1
    assert json.dumps([job.state for job in jobs]).count("delivered") == 3


async def test_a_comparison_with_a_preset_takes_its_settings_and_says_what_of_it_was_skipped(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.command("preset save long --model veo-3 --duration 20 --ar 9:16")
    # The typed models win over the preset's; its 20 s is longer than any of them makes.
    note = private_text(await bot.command("A paper boat --models pika,luma-dream-machine --preset long"))
    assert "`--duration 20` was skipped" in note, note
    await bot.run_jobs()
    assert sorted((c["model"], c["aspect_ratio"]) for c in bot.perf.creates) == [
        ("luma-dream-machine", "9:16"),
        ("pika", "9:16"),
    ]


async def test_a_colleagues_one_job_starts_after_the_first_take_of_a_comparison_of_four(make_bot: MakeBot) -> None:
    # One slot: the comparison's four takes are four jobs of one person in the fair line, in the order asked.
    bot = await make_bot(max_concurrent_jobs=1)
    await bot.command("A paper boat --models pika,luma-dream-machine,veo-3,runway-gen3")
    await bot.command("A red kite --model pika", user=BOB)
    await bot.run_jobs()
    assert [(c["prompt"], c["model"]) for c in bot.perf.creates] == [
        ("A paper boat", "pika"),
        ("A red kite", "pika"),
        ("A paper boat", "luma-dream-machine"),
        ("A paper boat", "veo-3"),
        ("A paper boat", "runway-gen3"),
    ]
    assert bot.perf.most_running == 1
