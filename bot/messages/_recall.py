"""Recall: a finished job's result posted again (`/video show`), and a person's history (`/video history`)."""

from __future__ import annotations

from typing import Any

from bot.domain.job import Job
from bot.domain.recall import MAX_SEARCH_WORDS, ShowOutcome
from bot.messages._i18n import N_, _, _n
from bot.messages._phrases import and_more, prompt_sent, settings_line, status_line
from bot.messages._text import (
    MAX_TEXT,
    Message,
    channel_link,
    clip,
    context_block,
    escape,
    linked,
    listed_in,
    mention,
    mrkdwn,
    private_answer,
    usd,
)

DRAFT_SHOWN = N_("✏️ A draft: a cheap preview. *Make the full version* is on its message.")


def show_message(job: Job, thread_link: str | None, shown_by: str) -> Message:
    """The finished job's result, posted in the channel the command came from (an in-channel answer)."""
    who = _("🎬 Video for {who} — ", who=mention(job.user_id))
    headline = who + prompt_sent(job, MAX_TEXT - len(who) - 2)
    watch = []
    if job.delivered_as_link and job.video_url:
        watch.append(linked(escape(job.video_url), _("the video")))
    if thread_link:
        shown = _("its thread") if watch else _("the video, in its thread")
        watch.append(f"<{escape(thread_link)}|{shown}>")
    where = "▶ " + (" · ".join(watch) if watch else _("the video is in job {job_id}'s thread", job_id=job.id))
    cost = (
        _("{cost} charged", cost=usd(job.cost_micros))
        if job.perf_cost_micros is not None
        else _("{cost} estimated", cost=usd(job.cost_micros))
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(headline)},
        # A draft brought back must not pass for the finished video.
        *([context_block(_(DRAFT_SHOWN))] if job.full_settings is not None else []),
        context_block(f"{escape(settings_line(job))} · {cost}"),
        {"type": "section", "text": mrkdwn(where)},
        context_block(_("Brought back by {who} with `/video show {job_id}`", who=mention(shown_by), job_id=job.id)),
    ]
    fallback = clip(f"{who}{prompt_sent(job, 300)} · {where}", MAX_TEXT, sent=True)
    return {"response_type": "in_channel", "text": fallback, "blocks": blocks, "unfurl_links": False}


def show_refused(outcome: ShowOutcome, job_id: str, job: Job | None = None) -> Message:
    shown = clip(job_id, 40)
    match outcome:
        case ShowOutcome.NO_ID:
            text = _("Which job? Type `/video show vb_…` with the id on its message (`/video history` lists yours).")
        case ShowOutcome.NOT_FOUND:
            text = _("There is no job `{job_id}`. `/video history` lists yours, with their ids.", job_id=shown)
        case ShowOutcome.NOT_YOURS:
            text = _("Only the person who asked for `{job_id}`, or a workspace admin, can bring it back.", job_id=shown)
        case ShowOutcome.UNCHECKED:
            text = _("I couldn't check with Slack whether you are an admin, so nothing was posted. Try again.")
        case ShowOutcome.UNFINISHED:
            state = status_line(job).split(" (")[0] if job else _("still running")
            text = _(
                "`{job_id}` isn't finished yet ({state}). Its video will appear in its thread; try again then.",
                job_id=shown,
                state=state,
            )
        case _:
            reason = status_line(job) if job else _("it ended without a video")
            text = _(
                "`{job_id}` has no video to show: {reason}. Press *Remix* or *Run again* on its message to try again.",
                job_id=shown,
                reason=reason,
            )
    return private_answer(text)


def history_message(jobs: list[Job], words: tuple[str, ...], links: dict[str, str]) -> Message:
    """Privately: the person's last jobs (with these words), newest first, each with a link to its thread."""
    searched = " ".join(words)
    if not jobs:
        text = (
            _("None of your jobs has “{words}” in its prompt.", words=escape(searched))
            if words
            else _("You have no jobs yet.")
        )
        return private_answer(text + " " + _("`/video history` with no words lists your latest."))
    head = (
        _n(
            "*Your last job with “{words}”*",
            "*Your last {count} jobs with “{words}”*",
            len(jobs),
            words=escape(searched),
        )
        if words
        else _n("*Your last job*", "*Your last {count} jobs*", len(jobs))
    )
    rows = []
    for job in jobs:
        link = links.get(job.id)
        where = linked(escape(link), _("thread")) if link else channel_link(job.channel_id)
        state = status_line(job).split(" · ")[0]
        money = usd(job.cost_micros)
        rows.append(
            f"• `{job.id}` · {state}{_kind(job)} · {escape(job.model)} · {money} · {prompt_sent(job, 80)} · {where}"
        )
    tail = "\n" + _("`/video show <id>` posts one of them here.")
    body = listed_in(rows, MAX_TEXT - len(head) - len(tail) - 2, "\n", and_more)
    answer = private_answer(f"{head}\n{body}{tail}")
    answer["blocks"] = [{"type": "section", "text": mrkdwn(f"{head}\n{body}")}, context_block(tail.strip())]
    return answer


def _kind(job: Job) -> str:
    """A draft or a remix says so in a list: their model and cost are not those of a finished take."""
    return (_(" · ✏️ draft") if job.full_settings is not None else "") + (_(" · 🎛 remix") if job.remix else "")


def history_too_many_words() -> Message:
    return private_answer(
        _n(
            "Search with at most {count} word, e.g. `/video history lighthouse`. "
            "(To make a video of that text instead, add an option: `/video history of rome --duration 4`.)",
            "Search with at most {count} words, e.g. `/video history lighthouse storm`. "
            "(To make a video of that text instead, add an option: `/video history of rome --duration 4`.)",
            MAX_SEARCH_WORDS,
        )
    )
