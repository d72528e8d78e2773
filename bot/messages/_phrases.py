"""The wording more than one surface uses, kept in one place so a job or a refused command reads the same
in the thread, in an answer, on App Home and in the form."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import catalogue
from bot.domain.defaults import Skipped, Source
from bot.domain.job import Decision, Job, JobState
from bot.domain.request import CommandError, ErrorCode, without_style
from bot.messages._text import Message, clip, escape, private_answer, quote_prompt, seconds_text, usd

# --- why a command was refused -------------------------------------------------------------------


def _model_list() -> str:
    return ", ".join(f"`{name}`" for name in catalogue.MODELS)


def command_error(error: CommandError) -> Message:
    """The answer to a command that doesn't parse; the form and a refused rerun give the same reason."""
    given = clip(error.given, 200)
    match error.code:
        case ErrorCode.EMPTY_PROMPT:
            text = (
                "Tell me what to film: `/video A lighthouse in a storm --duration 8`. `/video help` shows all options."
            )
        case ErrorCode.PROMPT_TOO_LONG:
            text = f"That prompt is {error.given} characters; the limit is {error.limit}. Shorten it and send it again."
        case ErrorCode.UNKNOWN_OPTION:
            hint = f" Did you mean `--{error.suggestion}`?" if error.suggestion else ""
            text = (
                f"I don't know the option `{given}`.{hint} "
                "Options are `--model` (or `--models` to compare), `--duration`, `--aspect` (or `--ar`), "
                "`--resolution`, `--style`, `--preset`, `--draft` and `--private`."
            )
        case ErrorCode.MISSING_VALUE:
            text = f"`--{given}` needs a value, e.g. `{_example_for(error.given)}`."
        case ErrorCode.NOT_A_DEFAULT:
            text = (
                f"`--{given}` {_one_request(error.given)}, so it can't be a default. Defaults are `--model`, "
                "`--duration`, `--aspect`, `--resolution` and `--style`."
            )
        case ErrorCode.UNKNOWN_PRESET:
            known = [name for name in error.suggestion.split(",") if name]
            listed = ", ".join(f"`{clip(name, 40)}`" for name in known[:30])
            there = (
                f"The ones you can use here: {listed}."
                if known
                else "There are none here yet: save one with `/video preset save teaser --model pika`."
            )
            text = f"There is no preset `{given}`. {there} Nothing was started."
        case ErrorCode.BAD_PRESET:
            text = (
                f"`{given}` {_one_request(error.given)}, so it can't be in a preset. A preset keeps `--model`, "
                "`--duration`, `--aspect`, `--resolution` and `--style`; add the rest when you use it: "
                "`/video A paper boat --preset teaser --models pika,luma-dream-machine`."
            )
        case ErrorCode.REPEATED_OPTION:
            text = f"`--{given}` is given twice; keep just one."
        case ErrorCode.STRAY_TEXT:
            text = (
                f"I didn't understand `{given}` after the options. Put the whole prompt first, then the options: "
                "`/video A lighthouse in a storm --model veo-3`."
            )
        case ErrorCode.UNKNOWN_MODEL:
            hint = f" Did you mean `{error.suggestion}`?" if error.suggestion else ""
            text = f"There is no model `{given}`.{hint} Choose one of {_model_list()}."
        case ErrorCode.BAD_DURATION:
            limit = catalogue.MODELS[error.model].max_duration_seconds
            text = (
                f"`{given}` is not a duration. Give a number of seconds above 0, e.g. `--duration 8` "
                f"({error.model} goes up to {limit} s)."
            )
        case ErrorCode.DURATION_TOO_LONG:
            alternative = ""
            if error.suggestion:
                other = catalogue.MODELS[error.suggestion]
                alternative = f", or `--model {other.name}` (up to {other.max_duration_seconds} s)"
            text = (
                f"{error.model} makes videos of up to {error.limit} s, and you asked for {given}. "
                f"Try `--duration {error.limit}`{alternative}."
            )
        case ErrorCode.MODELS_AND_MODEL:
            text = (
                "Use `--model` for one video or `--models` to compare several, not both: "
                "`/video A paper boat --models pika,luma-dream-machine`."
            )
        case ErrorCode.MODELS_AND_DRAFT:
            text = (
                "A comparison can't be a draft: a draft runs the cheapest model, so every take would be the same. "
                "Drop `--draft`, or draft one model with `--model`."
            )
        case ErrorCode.MODELS_COUNT:
            text = (
                f"`--models` compares 2 to {error.limit} models, and you gave {given}. List them with commas: "
                f"`--models pika,luma-dream-machine`. The models are {_model_list()}."
            )
        case ErrorCode.MODELS_REPEATED:
            text = f"`{given}` is in `--models` twice; name each model once."
        case ErrorCode.UNKNOWN_RESOLUTION:
            options = " or ".join(f"`{r}`" for r in catalogue.RESOLUTIONS)
            text = f"There is no resolution `{given}`. Use {options}."
        case ErrorCode.UNKNOWN_ASPECT:
            options = ", ".join(f"`{r}` {use}" for r, use in catalogue.ASPECT_RATIOS.items())
            text = f"There is no aspect ratio `{given}`. Use one of: {options}."
        case _:
            text = "I couldn't read that command. `/video help` shows how."
    return {"response_type": "ephemeral", "text": text}


_SKIPPED_OWNER = {
    Source.YOURS: "Your",
    Source.CHANNEL: "This channel's",
    Source.TYPED: "The",
    Source.PERF: "Perf's",
    Source.PRESET: "The preset's",
}
_SKIPPED_KIND = {Source.PRESET: "setting"}


def skipped_lines(skipped: Sequence[Skipped]) -> list[str]:
    """A line for each preset setting or default that could not apply, and why."""
    lines = []
    for item in skipped:
        reason = command_error(item.error)["text"]
        value = clip(item.value, 200)
        kind = _SKIPPED_KIND.get(item.source, "default")
        lines.append(f"⚠️ {_SKIPPED_OWNER[item.source]} {kind} `--{item.option} {value}` was skipped: {reason}")
    return lines


def _one_request(option: str) -> str:
    """Why an option is not kept in a default or a preset: it is about the request it is typed in."""
    match option.removeprefix("--"):
        case "models":
            return "compares models for the one request it is typed in"
        case "preset":
            return "names a preset for the one request it is typed in"
        case _:
            return "is about one video"


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
    style = f" + style: {clip(job.style, min(500, limit // 2))}"
    return quote_prompt(without_style(job.prompt, job.style), limit - len(style)) + style


def settings_line(job: Job) -> str:
    return " · ".join(
        (
            job.model,
            seconds_text(job.duration_seconds),
            job.resolution,
            job.aspect_ratio,
            f"est. {usd(job.estimated_cost_micros)}",
            f"job {job.id}",
        )
    )


def cost_phrase(job: Job) -> str:
    """What a job costs, as its budgets count it: what Perf charged, the estimate until then, nothing for a
    job that never reached Perf (denied, expired, cancelled or refused before it)."""
    if not job.holds_quota:
        return "nothing charged"
    if job.perf_cost_micros is None:
        return f"est. {usd(job.estimated_cost_micros)}"
    return usd(job.perf_cost_micros)


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def place_phrase(place: int) -> str:
    """A job's place in the account's line: `next in line`, `3rd in line`."""
    return "next in line" if place <= 1 else f"{ordinal(place)} in line"


def status_line(job: Job) -> str:
    match job.state:
        case JobState.ACCEPTED | JobState.SUBMITTING:
            return "⏳ Starting…"
        case JobState.AWAITING_APPROVAL:
            return "⏳ Waiting for approval (see thread)"
        case JobState.QUEUED:
            return "⏳ Waiting in line for Perf (place in line in the thread)"
        case JobState.PENDING:
            return "⏳ Queued at Perf"
        case JobState.PROCESSING:
            return "🎞️ Generating… (live progress in the thread)"
        case JobState.COMPLETE:
            return "📦 Finished, posting the video…"
        case JobState.DELIVERED:
            taken = time_taken(job)
            where = "link in the thread" if job.delivered_as_link else "video in the thread"
            return f"✅ Done{taken} · {usd(job.cost_micros)} · {where}"
        case JobState.FAILED:
            return approval_ending(job) or f"❌ Failed: {clip(job.error_message or 'unknown error', 1_000)}"
        case JobState.UNKNOWN:
            return "⚠️ Not sure Perf received this job, so it was not sent again (see thread)"
        case JobState.CANCELLED:
            return "🚫 Cancelled"
    return ""  # pragma: no cover - every state is listed above


def approval_ending(job: Job) -> str:
    """How a job that waited for approval and never ran ended ("" for any other job): its thread, its
    status and the approvers' copies of the request say it the same way."""
    match job.approval:
        case Decision.DENIED:
            reason = f": “{clip(job.approval_note, 500)}”" if job.approval_note else ""
            return f"❌ Denied by <@{escape(job.approval_by or '')}>{reason} · nothing was sent to Perf or charged"
        case Decision.EXPIRED:
            return f"⌛ Not approved in time ({clip(job.error_message or 'expired', 200)})"
        case Decision.WITHDRAWN:
            return "🚫 Cancelled while it waited for approval · nothing was sent to Perf or charged"
    return ""


def time_taken(job: Job) -> str:
    end = job.completed_at or job.delivered_at
    if job.submitted_at is None or end is None:
        return ""
    return f" in {max(1, round(end - job.submitted_at))} s"


# How the hint shows a configured emoji: the picture for the default, the shortcode (which Slack
# renders) for any other.
_EMOJI_PICTURES = {"repeat": "🔁", "arrows_counterclockwise": "🔄", "recycle": "♻️"}


def emoji(name: str) -> str:
    return _EMOJI_PICTURES.get(name, f":{name}:")


def admin_unchecked() -> Message:
    """A change only admins may make, asked while Slack could not say who is one (defaults, presets)."""
    return private_answer(
        "I couldn't check with Slack whether you are an admin, so nothing was changed. Try again in a minute."
    )
