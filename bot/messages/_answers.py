"""The answers to `/video` commands that are not a new job: help, models, status, cancel, details, and the
apology when something broke. A command that doesn't parse is answered in _phrases: the form and reruns
give the same reason."""

from __future__ import annotations

from decimal import Decimal

from bot.domain import catalogue
from bot.domain.job import CancelOutcome, Decision, Job, JobState
from bot.messages._i18n import _, price
from bot.messages._phrases import (
    and_more,
    aspect_use,
    emoji,
    place_phrase,
    settings_line,
    state_name,
    status_line,
)
from bot.messages._text import (
    MAX_TEXT,
    Message,
    clip,
    escape,
    listed_in,
    mention,
    private_answer,
    quote_prompt,
    seconds_text,
    usd,
)

# --- /video help, and when something broke --------------------------------------------------------


def help_message(*, rerun_emoji: str = "repeat", showcase: bool = False) -> Message:
    """`showcase`: the workspace has a showcase channel (VIDEOBOT_SHOWCASE_CHANNEL), so ⭐ is worth telling of."""
    models = "\n".join(
        _(
            "• `{model}` ({provider}): up to {limit}, {price} per second",
            model=m.name,
            provider=m.provider,
            limit=seconds_text(m.max_duration_seconds),
            price=price(m.price_per_second),
        )
        for m in catalogue.MODELS.values()
    )
    aspects = "\n".join(f"• `{ratio}` {aspect_use(ratio)}" for ratio in catalogue.ASPECT_RATIOS)
    paragraphs = [
        _(
            "*Make a video:* `/video <prompt> [--model M] [--models M1,M2] [--duration N] [--aspect R] "
            '[--resolution 720p|1080p] [--style "…"] [--preset NAME] [--private] [--draft]`'
        )
        + "\n"
        + _("Example: `/video A lighthouse in a storm, waves crashing --model veo-3 --duration 8 --ar 9:16`")
        + "\n"
        + _(
            "Defaults: `{model}`, {duration}, `{resolution}`, `{aspect}`. Options go after the prompt, "
            "in any order (`--ar` is short for `--aspect`; `--duration 8s` works too).",
            model=catalogue.DEFAULT_MODEL,
            duration=seconds_text(int(catalogue.DEFAULT_DURATION_SECONDS)),
            resolution=catalogue.DEFAULT_RESOLUTION,
            aspect=catalogue.DEFAULT_ASPECT_RATIO,
        ),
        _("*Models* (cost = duration × price):") + "\n" + models,
        _("*Aspect ratios:*") + "\n" + aspects,
        _(
            "*Prompt tips:* be descriptive; name the camera movement (“drone shot slowly revealing a valley”); "
            "name the lighting and mood (“dramatic sunset lighting, long shadows”)."
        ),
        _(
            "The video is posted in a thread under the job's message in this channel, with live progress. "
            "Add `--private` to have it made in a direct message to you instead. A bare `/video` opens a form "
            "that shows the cost as you choose."
        ),
        _(
            "*Your jobs:* `/video status` lists yours that are still running here; `/video cancel <job id>` or the "
            "*Cancel* button stops one (Perf has no cancel, so it may still be charged); *Details* shows its ids, "
            "timings and cost. `/video models` lists the models and prices."
        ),
        _(
            "*Sharing:* `/video quota` shows this channel's daily limits and what is left; admins change them with "
            "`/video quota set 10`, `/video quota set $25`, `/video quota set month $200` or `/video quota set off`. "
            "`/video report` shows today's usage and cost, `/video report month` the month by model and your own "
            "spend (by channel and person too for admins and approvers). When the account is busy, jobs wait in "
            "line, people take turns, and the thread shows their place."
        ),
        _(
            "*Another take:* react with {emoji} on the job's message, or press *Run again*. It runs "
            "the same prompt and settings for you and counts as a new job. *Remix* opens the form with its prompt "
            "and settings, to change what you like.",
            emoji=emoji(rerun_emoji),
        ),
        _(
            "*Compare models:* `/video A paper boat --models pika,luma-dream-machine` makes one take per model "
            "(2 to 4 of them) with the same settings, posted together with the cost of the whole comparison; a "
            "duration longer than a model makes is cut to its longest for that take. Each take has its own "
            "*Run again* and *Remix*."
        ),
        _(
            "*Draft first:* add `--draft` for a cheap preview (the cheapest model, 2 s, 720p); when it is done, "
            '*Make the full version* runs what you asked for. `--style "35 mm film"` adds a style to the prompt.'
        ),
        _(
            "*Defaults:* `/video defaults` shows what applies to you here and where it comes from; "
            '`/video defaults me --model pika` sets yours, `/video defaults --aspect 9:16 --style "soft light"` '
            "this channel's (admins); `/video defaults me clear` removes yours. An option you type wins."
        ),
        _(
            '*Presets:* `/video preset save teaser --model pika --duration 3 --aspect 9:16 --style "neon noir"` '
            "saves a recipe (add `--channel` for this channel's, admins only); `/video A rainy street --preset "
            "teaser` uses it (what you type still wins over it, and it wins over your defaults); `/video preset list` "
            "and `/video preset delete teaser`."
        ),
        _(
            "*Recall:* `/video history [words]` lists your last jobs (with those words); `/video show <job id>` "
            "posts a finished one here again."
        ),
        _(
            "*Language:* I answer you in the language your Slack is set to, and speak in a channel in the "
            "channel's: admins set it with `/video defaults --language de` (`/video defaults clear` removes it)."
        ),
    ]
    share = _(
        "*Share:* a `--private` video's message offers *Share in the channel*, which posts it in the channel "
        "you asked from, with your name."
    )
    if showcase:
        share = (
            _(
                "*Showcase:* react with ⭐ on a finished video's message, or press *Add to showcase*, to post it once "
                "to the team's showcase channel."
            )
            + " "
            + share
        )
    return {"response_type": "ephemeral", "text": "\n\n".join([*paragraphs, share])}


def internal_error() -> Message:
    return {
        "response_type": "ephemeral",
        "text": _("Sorry, something went wrong on my side and nothing was started. Please try again in a minute."),
    }


# --- status, models, cancel, details --------------------------------------------------------------


def models_message() -> Message:
    lines = [_("*Models* (cost = duration × price per second):")]
    for m in catalogue.MODELS.values():
        example = usd(catalogue.estimated_cost_micros(m.name, Decimal(min(8, m.max_duration_seconds))))
        lines.append(
            _(
                "• `{model}` ({provider}): up to {limit}, {price}/s (e.g. {seconds} for {cost})",
                model=m.name,
                provider=m.provider,
                limit=seconds_text(m.max_duration_seconds),
                price=price(m.price_per_second),
                seconds=seconds_text(min(8, m.max_duration_seconds)),
                cost=example,
            )
        )
    lines.append(_("Default: `{model}`. Choose one with `--model`.", model=catalogue.DEFAULT_MODEL))
    return private_answer("\n".join(lines))


def status_message(jobs: list[Job]) -> Message:
    if not jobs:
        return private_answer(_("You have no unfinished jobs in this channel."))
    head = _("*Your unfinished jobs here:*")
    tail = _("Cancel one with `/video cancel <job id>` or its *Cancel* button.")
    rows = [f"• `{job.id}` {_status_of(job)} — {quote_prompt(job.prompt, 80)} · {escape(job.model)}" for job in jobs]
    listed = listed_in(rows, MAX_TEXT - len(head) - len(tail) - 2, "\n", and_more)
    return private_answer("\n".join([head, listed, tail]))


def _status_of(job: Job) -> str:
    if job.state == JobState.QUEUED and job.queue_position:
        return _("⏳ Waiting for a free slot at Perf: {place}", place=place_phrase(job.queue_position))
    return status_line(job)


def cancel_result(outcome: CancelOutcome, job_id: str, job: Job | None = None) -> Message:
    """`job`: the job as cancelling left it; one cancelled while it waited for approval was never sent."""
    shown = clip(job_id, 100)
    match outcome:
        case CancelOutcome.CANCELLED if job is not None and job.approval == Decision.WITHDRAWN:
            text = _(
                "Cancelled `{job_id}` while it waited for approval: nothing was sent to Perf or charged.", job_id=shown
            )
        case CancelOutcome.CANCELLED:
            text = _("Cancelled `{job_id}`. Perf has no cancel, so it may still be charged.", job_id=shown)
        case CancelOutcome.NOT_FOUND:
            text = _("There is no job `{job_id}` in this channel. `/video status` lists yours.", job_id=shown)
        case CancelOutcome.NOT_YOURS:
            text = _("Only the person who asked for this video, or a workspace admin, can cancel it.")
        case CancelOutcome.ALREADY_ENDED:
            text = _("`{job_id}` has already ended; there is nothing to cancel.", job_id=shown)
        case CancelOutcome.UNCHECKED:
            text = _("I couldn't check with Slack whether you are an admin, so nothing was cancelled. Try again.")
        case _:
            text = _("Nothing was cancelled.")
    return private_answer(text)


def details_message(job: Job, events: list[tuple[float, str, str]]) -> Message:
    started = events[0][0] if events else job.created_at
    perf_job = clip(job.perf_job_id or "-", 200)
    cost = usd(job.cost_micros)
    lines = [
        _("*Job `{job_id}`* · {state}", job_id=job.id, state=state_name(job.state)),
        _("• Asked by {who} · {settings}", who=mention(job.user_id), settings=escape(settings_line(job))),
        _("• Perf job: `{perf_job_id}` · cost {cost} (charged)", perf_job_id=perf_job, cost=cost)
        if job.perf_cost_micros is not None
        else _("• Perf job: `{perf_job_id}` · cost {cost} (estimate)", perf_job_id=perf_job, cost=cost),
    ]
    if job.rerun_of:
        original = escape(job.rerun_of)
        if job.full_of_draft:
            lines.append(_("• The full version of the draft `{job_id}`", job_id=original))
        elif job.remix:
            lines.append(_("• Remix of `{job_id}`", job_id=original))
        else:
            lines.append(_("• Another take of `{job_id}`", job_id=original))
    if job.full_settings:
        lines.append(_("• A draft of `{settings}`", settings=escape(job.full_settings)))
    if job.style:
        lines.append(_("• Style added to the prompt: {style}", style=clip(job.style, 500)))
    tail = [_("• Error: {error}", error=clip(job.error_message, 1_000))] if job.error_message else []
    steps = [f"{escape(state_name(state))} +{seconds_text(round(at - started))}" for at, state, _unused in events]
    timeline = _("• Timeline: ")
    room = MAX_TEXT - len("\n".join(lines + tail)) - len(timeline) - 1
    lines.append(timeline + listed_in(steps, room, ", ", and_more))
    return private_answer("\n".join(lines + tail))


def step_needs_runner() -> str:
    """Why a workflow step fails when its requester is not the person who ran the workflow, as Slack fills it
    in (user context)."""
    return _(
        "The step needs the person who ran the workflow, as Slack fills it in: its Requester input must be "
        "Slack's user context (videobot's manifest declares it so), not a person picked in Workflow Builder."
    )


def step_failed(job: Job) -> str:
    """Why the workflow step that started `job` failed (Workflow Builder shows it to whoever ran it)."""
    if job.state == JobState.CANCELLED:
        return _("The video job was cancelled.")
    if job.state == JobState.UNKNOWN:
        return _("The connection to Perf broke while the job was sent; it may or may not have been made.")
    error = job.error_message or _("unknown error")
    return _("The video could not be made: {error}", error=error)


def step_needs_channel() -> str:
    """Why a workflow step fails when it names no channel."""
    return _("The step needs the channel to post the video in.")
