"""The wording more than one surface uses, kept in one place so a job or a refused command reads the same
in the thread, in an answer, on App Home and in the form."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import catalogue
from bot.domain.defaults import Skipped, Source
from bot.domain.job import Decision, Job, JobState
from bot.domain.request import CommandError, ErrorCode, without_style
from bot.messages._i18n import N_, _, _n, language, listing, number
from bot.messages._text import Message, clip, mention, private_answer, quote_prompt, seconds_text, usd

# --- why a command was refused -------------------------------------------------------------------

# What each aspect ratio is for (the catalogue's words, translated here).
ASPECT_USES = {
    "16:9": N_("widescreen (YouTube, presentations)"),
    "9:16": N_("vertical (TikTok, Reels)"),
    "1:1": N_("square (Instagram)"),
    "4:3": N_("classic"),
}


def aspect_use(ratio: str) -> str:
    use = ASPECT_USES.get(ratio)
    return _(use) if use else catalogue.ASPECT_RATIOS.get(ratio, "")


# A job's state as a person reads it (Details, its timeline, the day's "By state"): the stored value is a code.
STATE_NAMES = {
    JobState.ACCEPTED: N_("accepted"),
    JobState.AWAITING_APPROVAL: N_("awaiting approval"),
    JobState.QUEUED: N_("queued"),
    JobState.SUBMITTING: N_("submitting"),
    JobState.PENDING: N_("pending at Perf"),
    JobState.PROCESSING: N_("processing"),
    JobState.COMPLETE: N_("complete"),
    JobState.DELIVERED: N_("delivered"),
    JobState.FAILED: N_("failed"),
    JobState.UNKNOWN: N_("unknown at Perf"),
    JobState.CANCELLED: N_("cancelled"),
}


def state_name(state: str) -> str:
    """A job's state (a JobState or its stored value) in words; a value no JobState has, as it is."""
    try:
        return _(STATE_NAMES[JobState(state)])
    except ValueError:
        return state


def and_more(count: int) -> str:
    """What stands for the `count` items a list leaves out."""
    return _n("…and {count} more", "…and {count} more", count)


def _model_list() -> str:
    return listing([f"`{name}`" for name in catalogue.MODELS])


def command_error(error: CommandError) -> Message:
    """The answer to a command that doesn't parse; the form and a refused rerun give the same reason."""
    given = clip(error.given, 200)
    match error.code:
        case ErrorCode.EMPTY_PROMPT:
            text = _(
                "Tell me what to film: `/video A lighthouse in a storm --duration 8`. `/video help` shows all options."
            )
        case ErrorCode.PROMPT_TOO_LONG:
            text = _(
                "That prompt is {given} characters; the limit is {limit}. Shorten it and send it again.",
                given=number(int(error.given)) if error.given.isdigit() else given,
                limit=number(error.limit),
            )
        case ErrorCode.UNKNOWN_OPTION:
            options = _(
                "Options are `--model` (or `--models` to compare), `--duration`, `--aspect` (or `--ar`), "
                "`--resolution`, `--style`, `--preset`, `--draft` and `--private`."
            )
            if error.suggestion:
                text = _(
                    "I don't know the option `{given}`. Did you mean `--{suggestion}`? {options}",
                    given=given,
                    suggestion=error.suggestion,
                    options=options,
                )
            else:
                text = _("I don't know the option `{given}`. {options}", given=given, options=options)
        case ErrorCode.MISSING_VALUE:
            text = _("`--{option}` needs a value, e.g. `{example}`.", option=given, example=_example_for(error.given))
        case ErrorCode.NOT_A_DEFAULT:
            text = _(
                "`--{option}` {why}, so it can't be a default. Defaults are `--model`, "
                "`--duration`, `--aspect`, `--resolution` and `--style`.",
                option=given,
                why=_one_request(error.given),
            )
        case ErrorCode.UNKNOWN_PRESET:
            known = [name for name in error.suggestion.split(",") if name]
            listed = ", ".join(f"`{clip(name, 40)}`" for name in known[:30])
            there = (
                _("The ones you can use here: {presets}.", presets=listed)
                if known
                else _("There are none here yet: save one with `/video preset save teaser --model pika`.")
            )
            text = _("There is no preset `{given}`. {there} Nothing was started.", given=given, there=there)
        case ErrorCode.BAD_PRESET:
            text = _(
                "`{option}` {why}, so it can't be in a preset. A preset keeps `--model`, "
                "`--duration`, `--aspect`, `--resolution` and `--style`; add the rest when you use it: "
                "`/video A paper boat --preset teaser --models pika,luma-dream-machine`.",
                option=given,
                why=_one_request(error.given),
            )
        case ErrorCode.REPEATED_OPTION:
            text = _("`--{option}` is given twice; keep just one.", option=given)
        case ErrorCode.STRAY_TEXT:
            text = _(
                "I didn't understand `{given}` after the options. Put the whole prompt first, then the options: "
                "`/video A lighthouse in a storm --model veo-3`.",
                given=given,
            )
        case ErrorCode.UNKNOWN_MODEL:
            if error.suggestion:
                text = _(
                    "There is no model `{given}`. Did you mean `{suggestion}`? Choose one of {models}.",
                    given=given,
                    suggestion=error.suggestion,
                    models=_model_list(),
                )
            else:
                text = _("There is no model `{given}`. Choose one of {models}.", given=given, models=_model_list())
        case ErrorCode.BAD_DURATION:
            limit = catalogue.MODELS[error.model].max_duration_seconds
            text = _(
                "`{given}` is not a duration. Give a number of seconds above 0, e.g. `--duration 8` "
                "({model} goes up to {limit}).",
                given=given,
                model=error.model,
                limit=seconds_text(limit),
            )
        case ErrorCode.DURATION_TOO_LONG:
            if error.suggestion:
                other = catalogue.MODELS[error.suggestion]
                text = _(
                    "{model} makes videos of up to {limit}, and you asked for {given}. "
                    "Try `--duration {seconds}`, or `--model {other}` (up to {other_limit}).",
                    model=error.model,
                    limit=seconds_text(error.limit),
                    given=given,
                    seconds=error.limit,
                    other=other.name,
                    other_limit=seconds_text(other.max_duration_seconds),
                )
            else:
                text = _(
                    "{model} makes videos of up to {limit}, and you asked for {given}. Try `--duration {seconds}`.",
                    model=error.model,
                    limit=seconds_text(error.limit),
                    given=given,
                    seconds=error.limit,
                )
        case ErrorCode.MODELS_AND_MODEL:
            text = _(
                "Use `--model` for one video or `--models` to compare several, not both: "
                "`/video A paper boat --models pika,luma-dream-machine`."
            )
        case ErrorCode.MODELS_AND_DRAFT:
            text = _(
                "A comparison can't be a draft: a draft runs the cheapest model, so every take would be the same. "
                "Drop `--draft`, or draft one model with `--model`."
            )
        case ErrorCode.MODELS_COUNT:
            text = _(
                "`--models` compares 2 to {limit} models, and you gave {given}. List them with commas: "
                "`--models pika,luma-dream-machine`. The models are {models}.",
                limit=error.limit,
                given=given,
                models=_model_list(),
            )
        case ErrorCode.MODELS_REPEATED:
            text = _("`{given}` is in `--models` twice; name each model once.", given=given)
        case ErrorCode.UNKNOWN_RESOLUTION:
            options = listing([f"`{r}`" for r in catalogue.RESOLUTIONS], style="or")
            text = _("There is no resolution `{given}`. Use {options}.", given=given, options=options)
        case ErrorCode.UNKNOWN_ASPECT:
            options = ", ".join(f"`{r}` {aspect_use(r)}" for r in catalogue.ASPECT_RATIOS)
            text = _("There is no aspect ratio `{given}`. Use one of: {options}.", given=given, options=options)
        case _:
            text = _("I couldn't read that command. `/video help` shows how.")
    return {"response_type": "ephemeral", "text": text}


def _skipped_line(source: Source, option: str, reason: str) -> str:
    match source:
        case Source.YOURS:
            return _("⚠️ Your default `{option}` was skipped: {reason}", option=option, reason=reason)
        case Source.CHANNEL:
            return _("⚠️ This channel's default `{option}` was skipped: {reason}", option=option, reason=reason)
        case Source.PERF:
            return _("⚠️ Perf's default `{option}` was skipped: {reason}", option=option, reason=reason)
        case Source.PRESET:
            return _("⚠️ The preset's setting `{option}` was skipped: {reason}", option=option, reason=reason)
    return _("⚠️ The default `{option}` was skipped: {reason}", option=option, reason=reason)


def skipped_lines(skipped: Sequence[Skipped]) -> list[str]:
    """A line for each preset setting or default that could not apply, and why."""
    lines = []
    for item in skipped:
        reason = command_error(item.error)["text"]
        value = clip(item.value, 200)
        lines.append(_skipped_line(item.source, f"--{item.option} {value}", reason))
    return lines


def _one_request(option: str) -> str:
    """Why an option is not kept in a default or a preset: it is about the request it is typed in."""
    match option.removeprefix("--"):
        case "models":
            return _("compares models for the one request it is typed in")
        case "preset":
            return _("names a preset for the one request it is typed in")
        case _:
            return _("is about one video")


def _example_for(option: str) -> str:
    return {
        "model": "--model veo-3",
        "duration": "--duration 8",
        "aspect": "--aspect 9:16",
        "resolution": "--resolution 720p",
        "style": '--style "35 mm film, soft light"',
        "models": "--models pika,luma-dream-machine",
        "preset": "--preset teaser",
    }.get(option, f"--{option} …")


# --- a job in one line: its thread, the status answer and App Home show it the same way -------------


def prompt_sent(job: Job, limit: int) -> str:
    """The prompt as sent to Perf: the person's words in quotes, then the style that was added to them."""
    if not job.style:
        return quote_prompt(job.prompt, limit)
    style = _(" + style: {style}", style=clip(job.style, min(500, limit // 2)))
    return quote_prompt(without_style(job.prompt, job.style), limit - len(style)) + style


def settings_line(job: Job) -> str:
    return " · ".join(
        (
            job.model,
            seconds_text(job.duration_seconds),
            job.resolution,
            job.aspect_ratio,
            _("est. {cost}", cost=usd(job.estimated_cost_micros)),
            _("job {job_id}", job_id=job.id),
        )
    )


def cost_phrase(job: Job) -> str:
    """What a job costs, as its budgets count it: what Perf charged, the estimate until then, nothing for a
    job that never reached Perf (denied, expired, cancelled or refused before it)."""
    if not job.holds_quota:
        return _("nothing charged")
    if job.perf_cost_micros is None:
        return _("est. {cost}", cost=usd(job.estimated_cost_micros))
    return usd(job.perf_cost_micros)


def ordinal(number: int) -> str:
    """`3rd` in English; other languages' catalogues give their own form (`3.`, `3e`, `3番目`)."""
    if language() != "en":
        return _("{number}th", number=number)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def place_phrase(place: int) -> str:
    """A job's place in the account's line: `next in line`, `3rd in line`."""
    return _("next in line") if place <= 1 else _("{place} in line", place=ordinal(place))


def status_line(job: Job) -> str:
    match job.state:
        case JobState.ACCEPTED | JobState.SUBMITTING:
            return _("⏳ Starting…")
        case JobState.AWAITING_APPROVAL:
            return _("⏳ Waiting for approval (see thread)")
        case JobState.QUEUED:
            return _("⏳ Waiting in line for Perf (place in line in the thread)")
        case JobState.PENDING:
            return _("⏳ Queued at Perf")
        case JobState.PROCESSING:
            return _("🎞️ Generating… (live progress in the thread)")
        case JobState.COMPLETE:
            return _("📦 Finished, posting the video…")
        case JobState.DELIVERED:
            seconds = taken_seconds(job)
            cost = usd(job.cost_micros)
            if job.delivered_as_link:
                if seconds is None:
                    return _("✅ Done · {cost} · link in the thread", cost=cost)
                return _("✅ Done in {taken} · {cost} · link in the thread", taken=seconds_text(seconds), cost=cost)
            if seconds is None:
                return _("✅ Done · {cost} · video in the thread", cost=cost)
            return _("✅ Done in {taken} · {cost} · video in the thread", taken=seconds_text(seconds), cost=cost)
        case JobState.FAILED:
            error = job.error_message or _("unknown error")  # apart: a _() inside another is never extracted
            return approval_ending(job) or _("❌ Failed: {error}", error=clip(error, 1_000))
        case JobState.UNKNOWN:
            return _("⚠️ Not sure Perf received this job, so it was not sent again (see thread)")
        case JobState.CANCELLED:
            return _("🚫 Cancelled")
    return ""  # pragma: no cover - every state is listed above


def approval_ending(job: Job) -> str:
    """How a job that waited for approval and never ran ended ("" for any other job): its thread, its
    status and the approvers' copies of the request say it the same way."""
    match job.approval:
        case Decision.DENIED:
            who = mention(job.approval_by or "")
            if job.approval_note:
                return _(
                    "❌ Denied by {who}: “{reason}” · nothing was sent to Perf or charged",
                    who=who,
                    reason=clip(job.approval_note, 500),
                )
            return _("❌ Denied by {who} · nothing was sent to Perf or charged", who=who)
        case Decision.EXPIRED:
            return _("⌛ Not approved in time ({why})", why=clip(job.error_message or _("expired"), 200))
        case Decision.WITHDRAWN:
            return _("🚫 Cancelled while it waited for approval · nothing was sent to Perf or charged")
    return ""


def taken_seconds(job: Job) -> int | None:
    """How long Perf took to make the video, in whole seconds (None until it is made)."""
    end = job.completed_at or job.delivered_at
    if job.submitted_at is None or end is None:
        return None
    return max(1, round(end - job.submitted_at))


def time_taken(job: Job) -> str:
    """` in 42 s`, or "" while it isn't made."""
    seconds = taken_seconds(job)
    return "" if seconds is None else _(" in {taken}", taken=seconds_text(seconds))


# How the hint shows a configured emoji: the picture for the default, the shortcode (which Slack
# renders) for any other.
_EMOJI_PICTURES = {"repeat": "🔁", "arrows_counterclockwise": "🔄", "recycle": "♻️"}


def emoji(name: str) -> str:
    return _EMOJI_PICTURES.get(name, f":{name}:")


def admin_unchecked() -> Message:
    """A change only admins may make, asked while Slack could not say who is one (defaults, presets)."""
    return private_answer(
        _("I couldn't check with Slack whether you are an admin, so nothing was changed. Try again in a minute.")
    )
