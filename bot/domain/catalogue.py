"""The Perf model catalogue and the cost arithmetic built on it (facts from Perf's docs)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Model:
    name: str
    provider: str
    max_duration_seconds: int
    max_resolution: str
    price_per_second: Decimal


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("veo-3", "Google", 60, "1080p", Decimal("0.35")),
        Model("runway-gen3", "Runway", 16, "1080p", Decimal("0.10")),
        Model("luma-dream-machine", "Luma AI", 10, "1080p", Decimal("0.06")),
        Model("pika", "Pika Labs", 4, "1080p", Decimal("0.067")),
    )
}

# What each aspect ratio is for, in the order help shows them.
ASPECT_RATIOS: dict[str, str] = {
    "16:9": "widescreen (YouTube, presentations)",
    "9:16": "vertical (TikTok, Reels)",
    "1:1": "square (Instagram)",
    "4:3": "classic",
}
RESOLUTIONS: tuple[str, ...] = ("720p", "1080p")

DEFAULT_MODEL = "runway-gen3"
DEFAULT_DURATION_SECONDS = Decimal(4)
DEFAULT_RESOLUTION = "1080p"
DEFAULT_ASPECT_RATIO = "16:9"

MICROS_PER_DOLLAR = Decimal(1_000_000)


def estimated_cost_micros(model: str, duration_seconds: Decimal) -> int:
    """Estimated cost in millionths of a dollar: exact for every catalogue price."""
    price = MODELS[model].price_per_second
    return int((price * duration_seconds * MICROS_PER_DOLLAR).to_integral_value(ROUND_HALF_UP))


def dollars_to_micros(amount: float | int | str | Decimal) -> int:
    return int((Decimal(str(amount)) * MICROS_PER_DOLLAR).to_integral_value(ROUND_HALF_UP))


def micros_to_cents(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_DOLLAR).quantize(Decimal("0.01"), ROUND_HALF_UP)


def usd(micros: int) -> str:
    """Money as people read it, everywhere (Slack, the CLI, reports): `$1.23`, rounded half up to the cent."""
    return f"${micros_to_cents(micros)}"
