"""Parsing and validating the text of `/video` — pure, so every rule is a unit test.

The result is either a request to run, a request for help, or one `CommandError` saying what was
wrong; rendering any of them for Slack is the messages module's job.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from bot.domain import catalogue
from bot.domain.job import Job
from bot.domain.recall import prompt_words

# Slack's section blocks hold 3,000 characters; the root message shows the whole prompt beside the
# settings, so 2,000 keeps it readable and always within what Slack will post. Perf's own limit is
# not documented.
MAX_PROMPT_CHARS = 2000

# People type `--model`, but macOS and iOS autocorrect often turn `--` into an em or en dash.
_OPTION_START = re.compile(r"(?:(?<=\s)|^)(?:--|—|–)(?=[A-Za-z])")
_OPTION_TOKEN = re.compile(r"^(?:--|—|–)([A-Za-z][A-Za-z-]*)(?:=(.*))?$", re.DOTALL)
_DURATION = re.compile(r"^(\d{1,4})(\.\d{1,3})?\s*(s|sec|secs|second|seconds)?$", re.IGNORECASE)

_OPTION_ALIASES: dict[str, str] = {
    "model": "model",
    "m": "model",
    "duration": "duration",
    "d": "duration",
    "aspect": "aspect",
    "ar": "aspect",
    "aspect-ratio": "aspect",
    "resolution": "resolution",
    "res": "resolution",
    "private": "private",
    "dm": "private",
    "style": "style",
    "draft": "draft",
    "preset": "preset",
    "models": "models",
}
# Options that are switches: they take no value.
_FLAGS = frozenset({"private", "draft"})
OPTION_NAMES: tuple[str, ...] = (
    "model",
    "models",
    "duration",
    "aspect",
    "ar",
    "resolution",
    "private",
    "style",
    "draft",
    "preset",
)
# One prompt on several models at once (`--models pika,veo-3`): how many a comparison takes.
COMPARISON_MODELS = (2, 4)
# A value in quotes (`--style "35 mm film, soft light"`), straight or as autocorrect curls them.
_QUOTES = {'"': '"', "“": "”", "”": "”", "'": "'", "‘": "’"}


@dataclass(frozen=True)
class VideoRequest:
    prompt: str
    model: str = catalogue.DEFAULT_MODEL
    duration_seconds: Decimal = catalogue.DEFAULT_DURATION_SECONDS
    resolution: str = catalogue.DEFAULT_RESOLUTION
    aspect_ratio: str = catalogue.DEFAULT_ASPECT_RATIO
    private: bool = False  # post it in a direct message to the requester
    style: str = ""  # a suffix added to the prompt sent to Perf (`--style`, or a default)
    draft: bool = False  # make a cheap preview first (`--draft`); see bot.domain.drafts
    preset: str = ""  # `--preset name`: a named recipe under what was typed (bot.domain.presets)
    # A comparison (`--models`): one take per model, each with these settings (`comparison_takes`); empty
    # for one model. `model` is then the one of them that makes the longest videos.
    models: tuple[str, ...] = ()
    # The options given now (typed, or filled in on the form), not taken from the catalogue: the ones
    # defaults must not override. Not part of the request's value.
    typed: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def estimated_cost_micros(self) -> int:
        return catalogue.estimated_cost_micros(self.model, self.duration_seconds)

    @property
    def prompt_sent(self) -> str:
        """The prompt as Perf gets it: the person's words, then the style."""
        return with_style(self.prompt, self.style)


_SENTENCE_ENDS = (".", ",", ";", ":", "!", "?")


def with_style(prompt: str, style: str) -> str:
    """A style suffix joined to a prompt: after a comma, or a space when the prompt ends a sentence."""
    if not style:
        return prompt
    return f"{prompt} {style}" if prompt.endswith(_SENTENCE_ENDS) else f"{prompt}, {style}"


def without_style(sent: str, style: str | None) -> str:
    """The person's words of a prompt `with_style` made (the whole of it when it doesn't end so)."""
    if not style:
        return sent
    for joiner in (", ", " "):
        words = sent.removesuffix(joiner + style)
        if words != sent and with_style(words, style) == sent:
            return words
    return sent


def style_kept(sent: str, style: str | None) -> str | None:
    """`style` if the prompt `sent` still ends with it, else None: a remix's prompt may have been edited."""
    return style if style and without_style(sent, style) != sent else None


@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class AdminRequest:
    """`/video admin` (show this workspace's settings), `/video admin set NAME VALUE`, `/video admin unset NAME`."""

    action: str = ""  # "", "set" or "unset"
    name: str = ""
    value: str = ""


@dataclass(frozen=True)
class QuotaRequest:
    """`/video quota` (new_limit None) or `/video quota set <new_limit>`."""

    new_limit: str | None = None


@dataclass(frozen=True)
class ReportRequest:
    """`/video report` (today in this channel) or `/video report month` (the month, every channel)."""

    month: bool = False


@dataclass(frozen=True)
class FormRequest:
    """A bare `/video`: open the form."""


@dataclass(frozen=True)
class StatusRequest:
    """`/video status`: your jobs in this channel that have not finished."""


@dataclass(frozen=True)
class ModelsRequest:
    """`/video models`: the catalogue with prices."""


@dataclass(frozen=True)
class CancelRequest:
    job_id: str


@dataclass(frozen=True)
class DefaultsRequest:
    """`/video defaults [me]`: show them (no options), set some (`options`), or `clear` them; `mine` for the
    person's own, else the channel's."""

    mine: bool = False
    clear: bool = False
    options: dict[str, str] = field(default_factory=dict)
    language: str = ""  # `--language ja`: the channel's language (issue 26), as typed


@dataclass(frozen=True)
class PresetRequest:
    """`/video preset list`, `/video preset save <name> [--channel] --option value …`, or
    `/video preset delete <name> [--channel]`; `channel` for the channel's preset, else the person's."""

    action: str  # "list", "save" or "delete"
    name: str = ""
    channel: bool = False
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowRequest:
    """`/video show <job id>`: post a finished job's result here. `job_id` as typed ("" when none was)."""

    job_id: str


@dataclass(frozen=True)
class HistoryRequest:
    """`/video history [words]`: the person's last jobs whose prompt has all of `words`."""

    words: tuple[str, ...] = ()


class ErrorCode(StrEnum):
    """What was wrong with a command; the messages package words each one."""

    BAD_DURATION = "bad_duration"
    MODELS_AND_DRAFT = "models_and_draft"
    MODELS_AND_MODEL = "models_and_model"
    MODELS_COUNT = "models_count"
    MODELS_REPEATED = "models_repeated"
    DURATION_TOO_LONG = "duration_too_long"
    EMPTY_PROMPT = "empty_prompt"
    MISSING_VALUE = "missing_value"
    NOT_A_DEFAULT = "not_a_default"
    PROMPT_TOO_LONG = "prompt_too_long"
    REPEATED_OPTION = "repeated_option"
    STRAY_TEXT = "stray_text"
    UNKNOWN_ASPECT = "unknown_aspect"
    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_OPTION = "unknown_option"
    UNKNOWN_PRESET = "unknown_preset"
    BAD_PRESET = "bad_preset"
    UNKNOWN_RESOLUTION = "unknown_resolution"


@dataclass(frozen=True)
class CommandError:
    """One thing wrong with the command. `code` selects the wording; the rest fills it in."""

    code: ErrorCode
    given: str = ""
    suggestion: str = ""
    limit: int = 0
    model: str = ""


ParseResult = (
    VideoRequest
    | HelpRequest
    | QuotaRequest
    | ReportRequest
    | StatusRequest
    | ModelsRequest
    | CancelRequest
    | DefaultsRequest
    | ShowRequest
    | HistoryRequest
    | PresetRequest
    | FormRequest
    | AdminRequest
    | CommandError
)

# Sub-commands are whole texts, so a prompt that merely starts with one of these words is still a prompt.
_QUOTA_SET = re.compile(r"^quota\s+set(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_ADMIN = re.compile(r"^admin(?:\s+(set|unset)\s+(\S+)(?:\s+(.*))?)?$", re.IGNORECASE | re.DOTALL)
_CANCEL = re.compile(r"^cancel\s+(vb_[a-z0-9]{10})$", re.IGNORECASE)
# `defaults`, `defaults me`, either with `clear` or with options right after.
_DEFAULTS = re.compile(r"^defaults(\s+me)?(?:\s+(clear)|\s+((?:--|—|–)[A-Za-z].*))?$", re.IGNORECASE | re.DOTALL)
# The settings a default can give: not `--private` or `--draft`, which are about one request.
DEFAULT_OPTIONS = ("model", "duration", "aspect", "resolution", "style")
# `show` takes anything that looks like a job id (a wrong one is answered, not filmed). `history` takes
# words; a text with an option in it is a prompt that happens to start with "history".
_SHOW = re.compile(r"^show(?:\s+(vb_\S*))?$", re.IGNORECASE)
_HISTORY = re.compile(r"^history(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


def parse_video_command(text: str | None) -> ParseResult:
    text = text or ""
    stripped = text.strip()
    if not stripped:
        return FormRequest()
    if stripped.lower() in ("help", "-h", "--help", "?"):
        return HelpRequest()
    if stripped.lower() in ("quota", "quotas", "limits"):
        return QuotaRequest()
    if stripped.lower() in ("report", "usage"):
        return ReportRequest()
    if re.fullmatch(r"(report|usage)\s+month", stripped.lower()):
        return ReportRequest(month=True)
    if stripped.lower() in ("status", "jobs"):
        return StatusRequest()
    if stripped.lower() in ("models", "prices"):
        return ModelsRequest()
    admin = _ADMIN.match(stripped)
    if admin:
        action, name, value = admin.group(1) or "", admin.group(2) or "", admin.group(3) or ""
        return AdminRequest(action.lower(), name.lower(), value.strip())
    cancel = _CANCEL.match(stripped)
    if cancel:
        return CancelRequest(job_id=cancel.group(1).lower())
    if recall := _recall_request(stripped):
        return recall
    quota_set = _QUOTA_SET.match(stripped)
    if quota_set:
        return QuotaRequest(new_limit=(quota_set.group(1) or "").strip())
    if preset := _preset_request(stripped):
        return preset
    defaults = _DEFAULTS.match(stripped)
    if defaults:
        return _parse_defaults(bool(defaults.group(1)), bool(defaults.group(2)), defaults.group(3) or "")

    match = _OPTION_START.search(text)
    prompt_part, options_part = (text[: match.start()], text[match.start() :]) if match else (text, "")
    prompt = prompt_part.strip()

    options = _parse_options(options_part)
    if isinstance(options, CommandError):
        return options
    return _check_prompt(prompt) or _validate(prompt, options)


# `/video defaults --language ja`: a channel's language, a default apart from the settings of a video.
_LANGUAGE_OPTION = re.compile(r"(?:^|\s)(?:--|—|–)(?:language|lang)(?:=|\s+)(\S+)", re.IGNORECASE)


def _parse_defaults(mine: bool, clear: bool, text: str) -> DefaultsRequest | CommandError:
    language = ""
    if found := _LANGUAGE_OPTION.search(text):
        language, text = found.group(1), (text[: found.start()] + " " + text[found.end() :]).strip()
    options = _parse_options(text)
    if isinstance(options, CommandError):
        return options
    if other := next((name for name in options if name not in DEFAULT_OPTIONS), None):
        return CommandError(ErrorCode.NOT_A_DEFAULT, given=other)
    return DefaultsRequest(mine=mine, clear=clear, options=options, language=language)


# `preset`, `preset list`, `preset save <name> …`, `preset delete <name> …`: a text with other words after
# `preset` is a prompt.
_PRESET = re.compile(r"^presets?(?:\s+(list)|\s+(save|delete)(?:\s+(.*))?)?$", re.IGNORECASE | re.DOTALL)


def _preset_request(text: str) -> PresetRequest | CommandError | None:
    found = _PRESET.match(text)
    if not found:
        return None
    action = (found.group(1) or found.group(2) or "list").lower()
    if action == "list":
        return PresetRequest("list")
    words = (found.group(3) or "").split(maxsplit=1)
    name = words[0].lower() if words and not _OPTION_TOKEN.match(words[0]) else ""
    rest = (words[1] if len(words) > 1 else "") if name else (found.group(3) or "")
    tokens = rest.split()
    channel = any(t.lower() in ("--channel", "—channel", "–channel") for t in tokens)
    rest = " ".join(t for t in tokens if t.lower() not in ("--channel", "—channel", "–channel"))
    options = _parse_options(rest)
    if isinstance(options, CommandError):
        return options
    if other := next((option for option in options if option not in DEFAULT_OPTIONS), None):
        return CommandError(ErrorCode.BAD_PRESET, given=f"--{other}")
    if action == "delete" and options:
        return CommandError(ErrorCode.STRAY_TEXT, given=rest)
    return PresetRequest(action, name=name, channel=channel, options=options)


def _recall_request(text: str) -> ShowRequest | HistoryRequest | None:
    show = _SHOW.match(text)
    if show:
        return ShowRequest(job_id=(show.group(1) or "").lower())
    history = _HISTORY.match(text)
    if history and not _OPTION_START.search(text):
        return HistoryRequest(words=tuple(prompt_words(history.group(1) or "")))
    return None


def validate_form(
    prompt: str,
    model: str,
    duration: str,
    resolution: str,
    aspect_ratio: str,
    private: bool = False,
    *,
    style: str = "",
    draft: bool = False,
) -> VideoRequest | CommandError:
    """The form's fields, checked by the same rules as the typed options."""
    prompt = prompt.strip()
    if refused := _check_prompt(prompt):
        return refused
    options = {"model": model, "resolution": resolution, "aspect": aspect_ratio, "private": "yes" if private else ""}
    options |= {"style": style.strip(), "draft": "yes" if draft else ""}
    if duration.strip():
        options["duration"] = duration.strip()
    return _validate(prompt, {k: v for k, v in options.items() if v})


def revalidate(request: VideoRequest) -> VideoRequest | CommandError:
    """Check a stored request against today's catalogue: a rerun of an old job may name a retired model."""
    prompt = request.prompt.strip()
    if refused := _check_prompt(prompt):
        return refused
    options = {
        "model": request.model,
        "duration": str(request.duration_seconds),
        "resolution": request.resolution,
        "aspect": request.aspect_ratio,
    }
    return _validate(prompt, options)


def validate_options(prompt: str, options: dict[str, str]) -> VideoRequest | CommandError:
    """Options by name (`model`, `duration`, `aspect`, `resolution`, `style`, `private`, `draft`), checked as
    if typed after `prompt`; what defaults are checked with before they apply."""
    return _check_prompt(prompt.strip()) or _validate(prompt.strip(), options)


def _check_prompt(prompt: str) -> CommandError | None:
    """The rules every prompt meets, typed, from the form, or stored for a rerun."""
    if not prompt:
        return CommandError(ErrorCode.EMPTY_PROMPT)
    if len(prompt) > MAX_PROMPT_CHARS:
        return CommandError(ErrorCode.PROMPT_TOO_LONG, given=str(len(prompt)), limit=MAX_PROMPT_CHARS)
    return None


def _parse_options(text: str) -> dict[str, str] | CommandError:
    options: dict[str, str] = {}
    tokens = text.split()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        found = _OPTION_TOKEN.match(token)
        if not found:
            return CommandError(ErrorCode.STRAY_TEXT, given=token)
        raw_name, inline_value = found.group(1), found.group(2)
        name = _OPTION_ALIASES.get(raw_name.lower())
        if name is None:
            close = difflib.get_close_matches(raw_name.lower(), OPTION_NAMES, n=1, cutoff=0.6)
            return CommandError(ErrorCode.UNKNOWN_OPTION, given=token, suggestion=close[0] if close else "")
        if name in _FLAGS and inline_value is None:
            if name in options:
                return CommandError(ErrorCode.REPEATED_OPTION, given=name)
            options[name] = "yes"
            index += 1
            continue
        if inline_value is not None:
            value = inline_value
            index += 1
        elif index + 1 < len(tokens) and not _OPTION_TOKEN.match(tokens[index + 1]):
            value = tokens[index + 1]
            index += 2
        else:
            return CommandError(ErrorCode.MISSING_VALUE, given=name)
        if name == "style" and value[:1] in _QUOTES:
            value, index = _quoted(value, tokens, index)
        if name == "duration" and index < len(tokens) and tokens[index].lower() in ("s", "sec", "seconds"):
            index += 1  # "--duration 8 s"
        while name == "models" and index < len(tokens) and _continues_list(value, tokens[index]):
            value += " " + tokens[index]  # "--models pika, veo-3": a list typed with spaces
            index += 1
        if name in options:
            return CommandError(ErrorCode.REPEATED_OPTION, given=name)
        if not value:
            return CommandError(ErrorCode.MISSING_VALUE, given=name)
        options[name] = value
    return options


def _continues_list(value: str, token: str) -> bool:
    """Whether `token` goes on the list of models `value` began: after a comma or inside quotes, or a model's
    name. Other words stay stray text, answered as such (the prompt goes before the options)."""
    if _OPTION_TOKEN.match(token):
        return False
    opened = value[:1] in _QUOTES and not value.endswith(_QUOTES[value[0]])
    bare = token.strip(",").strip("".join(_QUOTES) + "".join(_QUOTES.values())).lower()
    return opened or value.endswith(",") or token.startswith(",") or bare in catalogue.MODELS


def _quoted(first: str, tokens: list[str], index: int) -> tuple[str, int]:
    """A value that opens with a quote runs to the token that closes it (or to the end): the words between
    them, and the index of the token after it."""
    close = _QUOTES[first[0]]
    words = [first[1:]]
    # The opening token may close it too (`"noir"`); a lone opening quote does not.
    while not (words[-1] and words[-1].endswith(close)) and index < len(tokens):
        words.append(tokens[index])
        index += 1
    return " ".join(words).removesuffix(close).strip(), index


def _compared_models(options: dict[str, str]) -> tuple[str, ...] | CommandError:
    """The models of `--models a,b`: 2 to 4 of the catalogue's, each once, never with `--model`."""
    if "model" in options:
        return CommandError(ErrorCode.MODELS_AND_MODEL)
    if "draft" in options:  # a draft runs the cheapest model: every take would be the same
        return CommandError(ErrorCode.MODELS_AND_DRAFT)
    listed = options["models"].strip("".join(_QUOTES) + "".join(_QUOTES.values()))
    names = [name.lower() for name in re.split(r"[,\s]+", listed) if name]
    for name in names:
        if name not in catalogue.MODELS:
            close = difflib.get_close_matches(name, catalogue.MODELS, n=1, cutoff=0.5)
            return CommandError(ErrorCode.UNKNOWN_MODEL, given=name, suggestion=close[0] if close else "")
    fewest, most = COMPARISON_MODELS
    if not fewest <= len(names) <= most:
        return CommandError(ErrorCode.MODELS_COUNT, given=str(len(names)), limit=most)
    if repeated := next((name for name in names if names.count(name) > 1), None):
        return CommandError(ErrorCode.MODELS_REPEATED, given=repeated)
    return tuple(names)


@dataclass(frozen=True)
class Take:
    """One model's take of a comparison: its request, and the duration asked for when the model's maximum
    cut it (None when it runs as asked)."""

    request: VideoRequest
    capped_from: Decimal | None = None


def comparison_takes(request: VideoRequest) -> list[Take]:
    """One take per model of a comparison, in the order the models were given: the same settings, the
    duration cut to what each model makes. A request for one model is its own single take."""
    if not request.models:
        return [Take(request)]
    takes = []
    for name in request.models:
        longest = Decimal(catalogue.MODELS[name].max_duration_seconds)
        duration = min(request.duration_seconds, longest)
        capped = request.duration_seconds if duration < request.duration_seconds else None
        takes.append(Take(replace(request, model=name, duration_seconds=duration, models=()), capped))
    return takes


def _validate(prompt: str, options: dict[str, str]) -> VideoRequest | CommandError:
    compared: tuple[str, ...] = ()
    if "models" in options:
        found = _compared_models(options)
        if isinstance(found, CommandError):
            return found
        compared = found
        # Checked against the longest of them: each take is cut to its own model's (comparison_takes).
        longest = max(compared, key=lambda name: catalogue.MODELS[name].max_duration_seconds)
        options = {**{k: v for k, v in options.items() if k != "models"}, "model": longest}
        request = _validate(prompt, options)
        if isinstance(request, CommandError):
            return request
        return replace(request, models=compared, typed=request.typed | {"models"})
    model_name = options.get("model", catalogue.DEFAULT_MODEL).lower()
    model = catalogue.MODELS.get(model_name)
    if model is None:
        close = difflib.get_close_matches(model_name, catalogue.MODELS, n=1, cutoff=0.5)
        return CommandError(ErrorCode.UNKNOWN_MODEL, given=options["model"], suggestion=close[0] if close else "")

    duration = catalogue.DEFAULT_DURATION_SECONDS
    if "duration" in options:
        parsed = _parse_duration(options["duration"])
        if parsed is None:
            return CommandError(ErrorCode.BAD_DURATION, given=options["duration"], model=model.name)
        if parsed > model.max_duration_seconds:
            fitting = [m for m in catalogue.MODELS.values() if m.max_duration_seconds >= parsed]
            cheapest = min(fitting, key=lambda m: m.price_per_second).name if fitting else ""
            return CommandError(
                ErrorCode.DURATION_TOO_LONG,
                given=options["duration"],
                limit=model.max_duration_seconds,
                model=model.name,
                suggestion=cheapest,
            )
        duration = parsed

    resolution = options.get("resolution", catalogue.DEFAULT_RESOLUTION).lower()
    if resolution in ("720", "1080"):
        resolution += "p"
    if resolution not in catalogue.RESOLUTIONS:
        return CommandError(ErrorCode.UNKNOWN_RESOLUTION, given=options["resolution"])

    aspect = options.get("aspect", catalogue.DEFAULT_ASPECT_RATIO).replace("x", ":").replace("/", ":")
    if aspect not in catalogue.ASPECT_RATIOS:
        return CommandError(ErrorCode.UNKNOWN_ASPECT, given=options["aspect"])

    style = _style(prompt, options)
    if isinstance(style, CommandError):
        return style

    return VideoRequest(
        prompt=prompt,
        model=model.name,
        duration_seconds=duration,
        resolution=resolution,
        aspect_ratio=aspect,
        private="private" in options,
        style=style,
        draft="draft" in options,
        preset=options.get("preset", "").strip().lower(),
        typed=frozenset(options) - {"preset"},
    )


def _style(prompt: str, options: dict[str, str]) -> str | CommandError:
    """The style, its spaces tidied; it must say something, and fit in the prompt sent with it."""
    style = " ".join(options.get("style", "").split())
    if "style" in options and not style:
        return CommandError(ErrorCode.MISSING_VALUE, given="style")
    if len(sent := with_style(prompt, style)) > MAX_PROMPT_CHARS:
        return CommandError(ErrorCode.PROMPT_TOO_LONG, given=str(len(sent)), limit=MAX_PROMPT_CHARS)
    return style


def _parse_duration(value: str) -> Decimal | None:
    found = _DURATION.match(value.strip())
    if not found:
        return None
    try:
        seconds = Decimal(found.group(1) + (found.group(2) or ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        return None
    if seconds <= 0:
        return None
    return seconds.normalize() if seconds != seconds.to_integral_value() else seconds.quantize(Decimal(1))


def request_of(job: Job) -> VideoRequest:
    """The request a stored job runs: what Perf is sent, and what a rerun starts from."""
    return VideoRequest(
        prompt=job.prompt,
        model=job.model,
        duration_seconds=job.duration_seconds,
        resolution=job.resolution,
        aspect_ratio=job.aspect_ratio,
        private=job.private,
    )
