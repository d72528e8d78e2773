"""Recall: a finished job's result posted again (`/video show`), and a person's history (`/video history`)."""

from __future__ import annotations

from typing import Any

from bot.domain.job import Job
from bot.domain.recall import MAX_SEARCH_WORDS, ShowOutcome
from bot.messages._phrases import prompt_sent, settings_line, status_line
from bot.messages._text import (
    MAX_TEXT,
    Message,
    clip,
    context_block,
    escape,
    listed_in,
    mrkdwn,
    private_answer,
    usd,
)

DRAFT_SHOWN = "✏️ A draft: a cheap preview. *Make the full version* is on its message."


def show_message(job: Job, thread_link: str | None, shown_by: str) -> Message:
    """The finished job's result, posted in the channel the command came from (an in-channel answer)."""
    who = f"🎬 Video for <@{escape(job.user_id)}> — "
    headline = who + prompt_sent(job, MAX_TEXT - len(who) - 2)
    watch = []
    if job.delivered_as_link and job.video_url:
        watch.append(f"<{escape(job.video_url)}|the video>")
    if thread_link:
        watch.append(
            f"<{escape(thread_link)}|its thread>" if watch else f"<{escape(thread_link)}|the video, in its thread>"
        )
    where = "▶ " + (" · ".join(watch) if watch else f"the video is in job {job.id}'s thread")
    cost = f"{usd(job.cost_micros)}" + (" charged" if job.perf_cost_micros is not None else " estimated")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(headline)},
        # A draft brought back must not pass for the finished video.
        *([context_block(DRAFT_SHOWN)] if job.full_settings is not None else []),
        context_block(f"{escape(settings_line(job))} · {cost}"),
        {"type": "section", "text": mrkdwn(where)},
        context_block(f"Brought back by <@{escape(shown_by)}> with `/video show {job.id}`"),
    ]
    fallback = clip(f"{who}{prompt_sent(job, 300)} · {where}", MAX_TEXT, sent=True)
    return {"response_type": "in_channel", "text": fallback, "blocks": blocks, "unfurl_links": False}


def show_refused(outcome: ShowOutcome, job_id: str, job: Job | None = None) -> Message:
    shown = clip(job_id, 40)
    match outcome:
        case ShowOutcome.NO_ID:
            text = "Which job? Type `/video show vb_…` with the id on its message (`/video history` lists yours)."
        case ShowOutcome.NOT_FOUND:
            text = f"There is no job `{shown}`. `/video history` lists yours, with their ids."
        case ShowOutcome.NOT_YOURS:
            text = f"Only the person who asked for `{shown}`, or a workspace admin, can bring it back."
        case ShowOutcome.UNCHECKED:
            text = "I couldn't check with Slack whether you are an admin, so nothing was posted. Try again."
        case ShowOutcome.UNFINISHED:
            state = status_line(job).split(" (")[0] if job else "still running"
            text = f"`{shown}` isn't finished yet ({state}). Its video will appear in its thread; try again then."
        case _:
            reason = status_line(job) if job else "it ended without a video"
            text = (
                f"`{shown}` has no video to show: {reason}. Press *Remix* or *Run again* on its message to try again."
            )
    return private_answer(text)


def history_message(jobs: list[Job], words: tuple[str, ...], links: dict[str, str]) -> Message:
    """Privately: the person's last jobs (with these words), newest first, each with a link to its thread."""
    searched = " ".join(words)
    if not jobs:
        text = f"None of your jobs has “{escape(searched)}” in its prompt." if words else "You have no jobs yet."
        return private_answer(text + " `/video history` with no words lists your latest.")
    head = ("*Your last job" if len(jobs) == 1 else f"*Your last {len(jobs)} jobs") + (
        f" with “{escape(searched)}”*" if words else "*"
    )
    rows = []
    for job in jobs:
        link = links.get(job.id)
        where = f"<{escape(link)}|thread>" if link else f"<#{escape(job.channel_id)}>"
        state = status_line(job).split(" · ")[0]
        money = usd(job.cost_micros)
        rows.append(
            f"• `{job.id}` · {state}{_kind(job)} · {escape(job.model)} · {money} · {prompt_sent(job, 80)} · {where}"
        )
    tail = "\n`/video show <id>` posts one of them here."
    body = listed_in(rows, MAX_TEXT - len(head) - len(tail) - 2, "\n", lambda n: f"…and {n} more")
    answer = private_answer(f"{head}\n{body}{tail}")
    answer["blocks"] = [{"type": "section", "text": mrkdwn(f"{head}\n{body}")}, context_block(tail.strip())]
    return answer


def _kind(job: Job) -> str:
    """A draft or a remix says so in a list: their model and cost are not those of a finished take."""
    return (" · ✏️ draft" if job.full_settings is not None else "") + (" · 🎛 remix" if job.remix else "")


def history_too_many_words() -> Message:
    return private_answer(
        f"Search with at most {MAX_SEARCH_WORDS} words, e.g. `/video history lighthouse storm`. "
        "(To make a video of that text instead, add an option: `/video history of rome --duration 4`.)"
    )
