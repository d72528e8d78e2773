"""Draft first: a cheap preview of a request, and the full version it stands for. Pure.

A draft runs the same prompt (style included) and aspect ratio on the catalogue's cheapest model, for
DRAFT_SECONDS, at 720p. The job remembers the settings the person asked for (`full_settings`, as the
options they would type), so its root can say what the full version costs and *Make the full version*
can run it, checked against today's catalogue like any request.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.domain import catalogue
from bot.domain.job import Job
from bot.domain.request import CommandError, VideoRequest, validate_options

# Long enough to judge the look, the framing and the first motion of a shot; a shorter clip shows
# little movement, a longer one costs more and tells little more. Never longer than the full version.
DRAFT_SECONDS = Decimal(2)
DRAFT_RESOLUTION = "720p"


def draft_model() -> catalogue.Model:
    """The catalogue's cheapest model by price per second (ties: the longer maximum, then the name)."""
    return min(catalogue.MODELS.values(), key=lambda m: (m.price_per_second, -m.max_duration_seconds, m.name))


def draft_of(full: VideoRequest) -> VideoRequest:
    """The preview of `full`: its prompt and aspect ratio, on the cheapest model, short, at 720p."""
    model = draft_model()
    seconds = min(DRAFT_SECONDS, full.duration_seconds, Decimal(model.max_duration_seconds))
    return replace(full, model=model.name, duration_seconds=seconds, resolution=DRAFT_RESOLUTION, draft=True)


def full_settings(full: VideoRequest) -> str:
    """What a draft's job stores of the request it stands for: its settings, as the options typed."""
    return (
        f"--model {full.model} --duration {full.duration_seconds} "
        f"--resolution {full.resolution} --aspect {full.aspect_ratio}"
    )


def _full_options(settings: str) -> dict[str, str]:
    words = settings.split()
    return {name.removeprefix("--"): value for name, value in zip(words[::2], words[1::2], strict=False)}


def full_request(draft: Job) -> VideoRequest | CommandError:
    """The full version of a draft's job, checked against today's catalogue (its model may be retired).
    The job's prompt is the one sent, style included, so the style is not added again."""
    return validate_options(draft.prompt, _full_options(draft.full_settings or ""))


def full_cost_micros(draft: Job) -> int | None:
    """What the full version of a draft would cost, estimated; None if it can no longer run."""
    request = full_request(draft)
    return None if isinstance(request, CommandError) else request.estimated_cost_micros
