"""Every payload videobot renders is one Slack takes, at Block Kit's limits, whatever the prompt, the Perf
error or the number of jobs, people and channels; what is cut says so, and stays inert."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import messages
from bot.domain.job import CancelOutcome, Job, JobState
from bot.domain.quotas import Day, Limits, Usage
from bot.domain.reports import DayReport, summarize
from bot.domain.request import MAX_PROMPT_CHARS, CommandError, ErrorCode
from bot.messages import MAX_TEXT, ChannelUsage, FormValues, clip, escape
from tests.fakes.blockkit import message_problem, view_problem
from tests.fakes.jobs import stored_job

# The longest prompt, 2,000 characters that escape to 3,000: more than a section holds beside the mention.
TOM_AND_JERRY = "Tom & Jerry <chase> " * 100
PINGS = ("<!channel> <!here> <@U0BOSS> " * 80)[:MAX_PROMPT_CHARS]
LONG_ERROR = ("Perf said: <bad> & worse " * 400)[:10_000]
ENTITY = re.compile(r"&(amp|lt|gt);")
MORE = re.compile(r"…and (\d+) more")


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


def job(state: JobState = JobState.PROCESSING, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "prompt": TOM_AND_JERRY,
        "perf_job_id": "job_1",
        "submitted_at": 2.0,
        "progress_percent": 40,
        "eta_seconds": 30,
        "root_ts": "1700000000.000100",
    }
    if state is JobState.FAILED:
        values["error_message"] = LONG_ERROR
    if state is JobState.DELIVERED:
        values.update(completed_at=40.0, video_url="https://perf.example/v/1.mp4", perf_cost_micros=280_000)
    values.update(fields)
    return stored_job(state=state, **values)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def assert_whole_entities(text: str) -> None:
    assert "&" not in ENTITY.sub("", text), f"a cut entity in …{text[-20:]!r}"


def assert_never_pings(payload: Any) -> None:
    for text in strings(payload):
        assert "<!" not in text and "<@U0BOSS>" not in text


def quoted(text: str) -> str:
    """The prompt between the quotes, as shown."""
    return text.split("“", 1)[1].rsplit("”", 1)[0]


def headline(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def assert_cut_prompt(shown: str, prompt: str, most: int) -> None:
    assert len(shown) <= most and shown.endswith("…")
    assert escape(prompt).startswith(shown[:-1])
    assert_whole_entities(shown)


# --- the helper ---------------------------------------------------------------------------------------


def test_clip_escapes_then_cuts_within_the_limit_and_never_splits_an_entity() -> None:
    text = "a & b <c> && d"
    assert clip(text, 100) == escape(text)
    assert clip("no change", 9) == "no change"
    for limit in range(1, len(escape(text))):
        cut = clip(text, limit)
        assert len(cut) <= limit and cut.endswith("…")
        assert escape(text).startswith(cut[:-1])
        assert_whole_entities(cut)
    assert clip("a &amp;&lt; b", 6, sent=True) == "a …"
    assert clip("a &amp;&lt; b", 8, sent=True) == "a &amp;…"


# --- a job's messages -----------------------------------------------------------------------------------


def test_the_root_message_of_the_longest_escaping_prompt_fits_and_shows_its_start() -> None:
    assert len(TOM_AND_JERRY) == MAX_PROMPT_CHARS and len(escape(TOM_AND_JERRY)) == 3000
    for state in JobState:
        message = messages.root_message(job(state))
        assert message_problem(message) is None, state
        assert len(headline(message)) <= MAX_TEXT and len(message["text"]) <= MAX_TEXT
        assert_cut_prompt(quoted(headline(message)), TOM_AND_JERRY, MAX_TEXT)
        assert_cut_prompt(quoted(message["text"]), TOM_AND_JERRY, 300)
        assert "&am…" not in dumps(message)


def test_a_prompt_that_fits_is_shown_whole_as_before() -> None:
    prompt = "A lighthouse & a storm " * 80  # 1,840 characters, 2,160 escaped: the section holds it all
    message = messages.root_message(job(prompt=prompt))
    assert quoted(headline(message)) == escape(prompt)


def test_mentions_in_a_prompt_never_ping_after_truncation() -> None:
    for state in JobState:
        message = messages.root_message(job(state, prompt=PINGS, error_message=PINGS))
        assert message_problem(message) is None
        assert_never_pings(message)
        assert_never_pings(messages.progress_message(job(state, prompt=PINGS, error_message=PINGS)))
    assert_never_pings(messages.status_message([job(prompt=PINGS) for _ in range(200)]))
    assert_never_pings(messages.home_view([job(prompt=PINGS)] * 200, 0, 0, None, "", "May"))


def test_a_failure_with_the_longest_perf_error_fits_everywhere_it_is_shown() -> None:
    failed = job(JobState.FAILED)
    root, progress = messages.root_message(failed), messages.progress_message(failed)
    assert message_problem(root) is None and message_problem(progress) is None
    status = root["blocks"][-3]["elements"][0]["text"]
    assert status.startswith("❌ Failed: Perf said: &lt;bad&gt; &amp; worse") and status.endswith("…")
    for text in (status, root["text"], progress["text"]):
        assert len(text) <= MAX_TEXT
        assert_whole_entities(text)
    assert progress["text"].startswith("❌ The video could not be made: Perf said: &lt;bad&gt;")
    assert len(progress["text"]) == MAX_TEXT  # as much of the error as fits


def test_cannot_post_in_channel_with_a_long_reason_fits() -> None:
    told = messages.cannot_post_in_channel(LONG_ERROR)
    assert message_problem(told) is None and len(told["text"]) <= MAX_TEXT
    assert told["text"].endswith("Nothing was sent to Perf and nothing was charged. Try again in a minute.")
    assert_whole_entities(told["text"])
    assert messages.cannot_post_in_channel("not_in_channel")["text"].startswith(
        "I couldn't post in this channel (not_in_channel). Invite me first"
    )


def test_buttons_and_contexts_stay_within_their_limits() -> None:
    for state in JobState:
        message = messages.root_message(job(state, rerun_of="vb_original", rerun_link="https://x/p1"))
        assert message_problem(message) is None
        for block in message["blocks"]:
            if block["type"] == "actions":
                assert all(len(b["text"]["text"]) <= 75 and len(b["value"]) <= 2000 for b in block["elements"])
            if block["type"] == "context":
                assert len(block["elements"]) <= 10
                assert all(len(e["text"]) <= MAX_TEXT for e in block["elements"])


prompts = st.text(
    alphabet=st.one_of(
        st.sampled_from("&<>!@#*_~`;a "),
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji, astral
        st.characters(),
    ),
    max_size=MAX_PROMPT_CHARS,
)


@settings(max_examples=150, deadline=None)
@given(prompt=prompts, error=st.text(max_size=300) | st.just(LONG_ERROR), state=st.sampled_from(list(JobState)))
def test_any_prompt_in_any_state_renders_a_root_and_a_progress_message_slack_takes(
    prompt: str, error: str, state: JobState
) -> None:
    the_job = job(state, prompt=prompt, error_message=error or None, delivery_note=error or None)
    root, progress = messages.root_message(the_job), messages.progress_message(the_job)
    assert message_problem(root) is None and message_problem(progress) is None
    assert len(root["text"]) <= MAX_TEXT and len(progress["text"]) <= MAX_TEXT
    shown = quoted(headline(root))
    assert shown == escape(prompt) or (shown.endswith("…") and escape(prompt).startswith(shown[:-1]))
    for text in (headline(root), root["text"], progress["text"]):
        assert_whole_entities(text)
        assert "<!" not in text  # every `<` left is one of ours: the requester's mention


def test_a_remix_of_a_draft_with_the_longest_prompt_and_style_fits_with_all_its_lines() -> None:
    style = ("<b> & film " * 50)[:500]
    prompt = f"{TOM_AND_JERRY[: MAX_PROMPT_CHARS - len(style) - 2]}, {style}"
    link = "https://acme.slack.com/archives/C0DESIGN/p1700000000000100?thread_ts=1700000000.000001&cid=C0DESIGN"
    for full_settings in ("--model veo-3 --duration 8 --resolution 1080p --aspect 9:16", "--model sora-1 --duration 8"):
        for state in JobState:
            the_job = job(
                state,
                prompt=prompt,
                style=style,
                rerun_of="vb_original00",
                rerun_link=link,
                remix=True,
                full_settings=full_settings,
                model="luma-dream-machine",
                duration_seconds=Decimal(2),
            )
            root = messages.root_message(the_job)
            assert message_problem(root) is None, (state, full_settings)
            text = dumps(root)
            assert "🎛 Remix of" in text and "✏️ Draft" in text and "+ style: " in text
            shown = messages.show_message(the_job, link, "UALICE01")
            assert message_problem({"channel": "C0DESIGN", **shown}) is None
            assert message_problem(messages.details_message(the_job, [(1.0, "accepted", "")] * 300)) is None


# --- lists: status, details, reports, App Home ----------------------------------------------------------


def test_status_with_200_long_jobs_lists_what_fits_and_counts_the_rest() -> None:
    jobs = [job(state) for state in (JobState.QUEUED, JobState.PROCESSING, JobState.PENDING) for _ in range(67)][:200]
    status = messages.status_message(jobs)
    assert message_problem(status) is None and len(status["text"]) <= MAX_TEXT
    lines = status["text"].split("\n")
    shown = [line for line in lines if line.startswith("• `")]
    more = MORE.fullmatch(lines[-2])
    assert more and len(shown) + int(more.group(1)) == 200
    assert lines[-1].startswith("Cancel one with")
    for line in shown:
        assert_cut_prompt(quoted(line), TOM_AND_JERRY, 80)


def test_status_with_a_few_jobs_lists_them_all() -> None:
    text = messages.status_message([job(prompt="p"), job(prompt="q")])["text"]
    assert text.count("\n• `") == 2 and "more" not in text


def test_details_with_many_events_and_a_long_error_fit() -> None:
    failed = job(JobState.FAILED)
    events = [(float(n), "poll", "") for n in range(1000)]
    details = messages.details_message(failed, events)
    assert message_problem(details) is None and len(details["text"]) <= MAX_TEXT
    timeline = next(line for line in details["text"].split("\n") if line.startswith("• Timeline: "))
    steps = timeline.removeprefix("• Timeline: ").split(", ")
    more = MORE.fullmatch(steps[-1])
    assert more and len(steps) - 1 + int(more.group(1)) == 1000
    error = details["text"].split("\n")[-1]
    assert error.startswith("• Error: Perf said: &lt;bad&gt;") and error.endswith("…")
    assert_whole_entities(error)


def report_of(people: int, name_chars: int) -> tuple[DayReport, dict[str, str]]:
    jobs = [job(JobState.DELIVERED, user_id=f"U{n:05d}") for n in range(people) for _ in range(2)]
    names = {f"U{n:05d}": (f"Person {n} & <Co> " * 20)[:name_chars] for n in range(people)}
    return summarize(jobs, "2026-11-25"), names


def people_line(text: str) -> str:
    return next(line for line in text.split("\n") if line.startswith("• By: "))


def assert_counts_everyone(line: str, people: int) -> None:
    more = MORE.search(line)
    assert more and line.endswith(more.group(0))
    assert line.count("(2 jobs, ") + int(more.group(1)) == people


def test_reports_for_a_channel_of_60_people_with_long_names_fit_and_count_who_is_left_out() -> None:
    report, names = report_of(60, 80)
    day = Day(0.0, 86_400.0, "2026-11-25")
    usage = messages.usage_report(report, names, Limits(10, 5_000_000, 3), Usage(120, 33_600_000), day, 10.0, "UTC")
    assert message_problem(usage) is None and len(usage["text"]) <= MAX_TEXT
    assert_counts_everyone(people_line(usage["text"]), 60)
    assert usage["text"].split("\n")[-1].startswith("Resets at midnight UTC")
    for workspace in (False, True):
        daily = messages.daily_report(report, names, workspace=workspace)
        assert message_problem(daily) is None
        assert_counts_everyone(people_line(daily["blocks"][0]["text"]["text"]), 60)
        assert_never_pings(daily)


def test_a_report_of_a_few_people_names_them_all() -> None:
    report, names = report_of(3, 12)
    line = people_line(messages.daily_report(report, names)["blocks"][0]["text"]["text"])
    assert line.count("(2 jobs, ") == 3 and "more" not in line


def home_channels(count: int) -> list[ChannelUsage]:
    return [ChannelUsage(f"CH{n:05d}", n, n * 10_000, 30 if n % 2 else 0) for n in range(count)]


def shown_rows(view: dict[str, Any], marker: str) -> int:
    return sum(1 for block in view["blocks"] if block["type"] == "context" and marker in dumps(block))


def more_count(view: dict[str, Any], what: str) -> int:
    for block in view["blocks"]:
        text = block["elements"][0]["text"] if block["type"] == "context" else ""
        if (found := MORE.match(text)) and text.startswith(f"{found.group(0)} {what}"):
            return int(found.group(1))
    return 0


def test_app_home_for_an_admin_with_many_channels_and_jobs_fits_and_counts_the_rest() -> None:
    jobs = [job(state) for state in JobState for _ in range(20)]  # 20 a state, with the longest prompts and errors
    view = messages.home_view(jobs, 1, 2, home_channels(200), "https://acme.slack.com/", "November")
    assert view_problem(view) is None and len(view["blocks"]) == 100
    jobs_shown, channels_shown = shown_rows(view, "“"), shown_rows(view, "<#CH")
    assert jobs_shown + more_count(view, "jobs") == len(jobs)
    assert channels_shown + more_count(view, "channels") == 200
    assert_never_pings(view)
    for block in view["blocks"]:
        if block["type"] == "context" and "“" in block["elements"][0]["text"]:
            assert_cut_prompt(quoted(block["elements"][0]["text"]), TOM_AND_JERRY, 80)


def test_app_home_shows_all_of_the_usual_20_jobs_beside_many_channels() -> None:
    view = messages.home_view([job() for _ in range(20)], 1, 2, home_channels(300), "", "November")
    assert view_problem(view) is None and len(view["blocks"]) == 100
    assert shown_rows(view, "“") == 20 and more_count(view, "jobs") == 0
    assert shown_rows(view, "<#CH") + more_count(view, "channels") == 300


def test_app_home_without_admin_rights_and_many_jobs_fits() -> None:
    view = messages.home_view([job() for _ in range(150)], 1, 2, None, "", "November")
    assert view_problem(view) is None and len(view["blocks"]) == 100
    assert shown_rows(view, "“") + more_count(view, "jobs") == 150


def test_app_home_with_few_jobs_and_channels_is_unchanged() -> None:
    view = messages.home_view([job(), job()], 1, 2, home_channels(3), "", "November")
    assert view_problem(view) is None and len(view["blocks"]) == 6 + 2 + 2 + 3  # head (with New video), jobs, channels
    assert "more" not in dumps(view)


# --- the form and command errors ------------------------------------------------------------------------


def test_the_form_with_the_longest_prompt_and_a_long_duration_is_a_view_slack_takes() -> None:
    duration = "1." + "0" * 2990 + "1"  # a valid number of seconds, so the cost line repeats it
    view = messages.video_form("C0DESIGN", FormValues(prompt=TOM_AND_JERRY, duration=duration))
    assert view_problem(view) is None
    assert view["blocks"][0]["element"]["initial_value"] == TOM_AND_JERRY  # the person's own text, untouched
    assert json.loads(view["private_metadata"]) == {"channel_id": "C0DESIGN"}
    cost = view["blocks"][-1]["elements"][0]["text"]
    assert len(cost) <= MAX_TEXT and cost.endswith("…")
    too_long = messages.video_form("C0DESIGN", FormValues(prompt="x" * 5000))
    assert view_problem(too_long) is None
    assert too_long["blocks"][0]["element"]["initial_value"] == "x" * MAX_PROMPT_CHARS


def test_command_errors_and_form_errors_with_huge_user_text_fit() -> None:
    for code in ("unknown_option", "stray_text", "unknown_model", "bad_duration", "unknown_aspect"):
        error = CommandError(ErrorCode(code), given="<!channel> & " * 400, model="veo-3")
        text = messages.command_error(error)["text"]
        assert len(text) <= 1000 and "<!channel>" not in text
        assert_whole_entities(text)
        assert all(len(field) <= 2000 for field in messages.form_errors(error).values())
    assert len(messages.quota_bad_value("&" * 5000)["text"]) <= 1000
    assert len(messages.cancel_result(CancelOutcome.NOT_FOUND, "<" * 5000)["text"]) <= 1000
    assert len(messages.form_refused("x" * 5000)["prompt"]) == 2000


# --- when Slack refuses the blocks anyway ---------------------------------------------------------------


def test_the_plain_text_version_keeps_the_fallback_text_and_drops_the_blocks() -> None:
    root = messages.root_message(job(JobState.FAILED))
    plain = messages.plain_text_version(root)
    assert "blocks" not in plain and plain["text"] == root["text"]
    assert plain["unfurl_links"] is False and plain["unfurl_media"] is False
    assert message_problem(plain) is None


def test_the_plain_text_version_keeps_how_a_private_answer_is_delivered() -> None:
    answer = {"response_type": "ephemeral", "replace_original": False, "text": "hi", "blocks": [{"type": "divider"}]}
    assert messages.plain_text_version(answer) == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": "hi",
    }


def test_the_plain_text_version_builds_a_text_from_the_blocks_when_there_is_none() -> None:
    root = messages.root_message(job())
    plain = messages.plain_text_version({**root, "text": " "})
    assert "blocks" not in plain and message_problem(plain) is None
    assert plain["text"].startswith(headline(root)[:200]) and len(plain["text"]) <= MAX_TEXT
    home = messages.home_view([job()], 1, 2, None, "", "May")
    assert messages.plain_text_version({"blocks": home["blocks"]})["text"].startswith("🎬 videobot\nYou spent")


def test_the_plain_text_version_cuts_an_oversized_text_safely() -> None:
    plain = messages.plain_text_version({"text": "&amp;" * 20_000, "blocks": []})
    assert len(plain["text"]) <= MAX_TEXT and plain["text"].endswith("…")
    assert_whole_entities(plain["text"])
    assert message_problem(plain) is None
    assert messages.plain_text_version({"blocks": []})["text"]  # never an empty message


def test_a_normal_job_renders_as_before() -> None:
    normal = job(prompt="A lighthouse in a storm", duration_seconds=Decimal("2.5"), state=JobState.ACCEPTED)
    message = messages.root_message(normal)
    assert headline(message) == "🎬 Video for <@UALICE01> — “A lighthouse in a storm”"
    assert message["text"] == "🎬 Video for <@UALICE01> — “A lighthouse in a storm” · ⏳ Starting…"
