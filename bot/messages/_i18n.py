"""The language videobot speaks: gettext catalogues read from `locales/`, and Babel for everything formatted.

Which language a message is built in is the context's (`speaking("de")`), so the surfaces' signatures stay as
they are: the caller that knows whose words these are (a person's, a channel's, a job's) says so around the
call. Outside any `speaking`, English.

Every string is a msgid in English with named `{placeholders}` (`str.format`), extracted by
`pybabel extract -F babel.cfg -k _n:1,2 -k N_` into `locales/videobot.pot`. The `.po` files are read and
compiled in memory the first time a language is used (Babel's `read_po` and `write_mo`): no compiled `.mo`
is committed or built, so a fresh clone and `pip install -e .` speak every language at once.

`qps` is the pseudo-locale the tests render in: every translation is the English marked and lengthened by
half, so English left over (a string not wrapped) and text that would not fit Slack's limits show up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gettext
import io
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent, get_decimal_symbol

DEFAULT_LANGUAGE = "en"
PSEUDO = "qps"
DOMAIN = "videobot"
# The catalogues: `locales/<ll>[_<RR>]/LC_MESSAGES/videobot.po` at the top of a checkout (an editable install);
# the image copies them to /app/locales, its working directory.
_HERE = Path(__file__).resolve()
_CANDIDATES = (_HERE.parents[2] / "locales", Path.cwd() / "locales")

# Slack's locale codes (users.info include_locale) that are not a real locale as they are.
_SLACK_CODES = {"es-LA": "es-419", "zh-CN": "zh-Hans-CN", "zh-TW": "zh-Hant-TW"}

_language: ContextVar[str] = ContextVar("videobot_language", default=DEFAULT_LANGUAGE)
# The workspace's language (VIDEOBOT_LANGUAGE): for whoever and wherever no language of their own is known.
_workspace_language = DEFAULT_LANGUAGE


def configure(workspace_language: str | None) -> str:
    """Set the workspace's language (VIDEOBOT_LANGUAGE); returns the shipped language that serves it."""
    global _workspace_language
    _workspace_language = next(filter(None, [supported(workspace_language)]), DEFAULT_LANGUAGE)
    return _workspace_language


def workspace_language() -> str:
    return _workspace_language


def locales_dir() -> Path:
    return next((path for path in _CANDIDATES if path.is_dir()), _CANDIDATES[0])


@functools.cache
def shipped() -> tuple[str, ...]:
    """The languages with a catalogue (as tags: `de`, `es-419`, `pt-BR`), English first."""
    found = sorted(
        path.parent.parent.name.replace("_", "-")
        for path in locales_dir().glob(f"*/LC_MESSAGES/{DOMAIN}.po")
        if path.parent.parent.name != "en"
    )
    return (DEFAULT_LANGUAGE, *found)


def slack_locale(code: str | None) -> str | None:
    """A Slack locale (`es-LA`, `de-DE`, `pt-BR`) as a real one (`es-419`, `de-DE`, `pt-BR`); None when empty."""
    code = (code or "").strip().replace("_", "-")
    if not code:
        return None
    return _SLACK_CODES.get(code, code)


def supported(language: str | None) -> str | None:
    """The shipped language (or the pseudo-locale) that serves `language`: itself, its base language without
    the region or script (`de-AT` → `de`), or None when none does. `es-419` serves `es-AR` and `es-MX`, since
    they are Latin American Spanish."""
    if not language:
        return None
    if language == PSEUDO:
        return PSEUDO
    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    tags = {tag.lower(): tag for tag in shipped()}
    candidates = [str(locale).replace("_", "-")]
    if locale.territory and locale.language == "es" and locale.territory not in ("ES", "419"):
        candidates.append("es-419")
    if locale.script:
        candidates.append(f"{locale.language}-{locale.script}")
    if locale.territory:
        candidates.append(f"{locale.language}-{locale.territory}")
    candidates.append(locale.language)
    return next((tags[c.lower()] for c in candidates if c.lower() in tags), None)


def resolve(*languages: str | None) -> str:
    """The first of `languages` that is shipped, else the workspace's, else English: a person's, say."""
    return next((found for found in map(supported, languages) if found), _workspace_language)


def language() -> str:
    """The language messages are being built in."""
    return _language.get()


@contextlib.contextmanager
def speaking(*languages: str | None) -> Iterator[str]:
    """Build the messages inside in the first of `languages` a catalogue serves (`de-AT` → `de`), else in the
    workspace's language (VIDEOBOT_LANGUAGE), else English."""
    chosen = resolve(*languages)
    token = _language.set(chosen)
    try:
        yield chosen
    finally:
        _language.reset(token)


# --- catalogues ---------------------------------------------------------------------------------------


@functools.cache
def _translations(language: str) -> gettext.NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    if language == PSEUDO:
        return _PseudoTranslations()
    path = locales_dir() / language.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language.replace("-", "_"), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str, /, **values: object) -> str:
    """`message` in the current language, its `{placeholders}` filled in from `values`."""
    text = _translations(_language.get()).gettext(message)
    return text.format(**values) if values else text


def _n(singular: str, plural: str, count: int, /, **values: object) -> str:
    """The form of `singular`/`plural` the current language uses for `count`; `{count}` is the count formatted."""
    text = _translations(_language.get()).ngettext(singular, plural, count)
    return text.format(**{"count": number(count), **values})


def N_(message: str) -> str:
    """Marks `message` for extraction; it is translated where it is used (`_(message)`)."""
    return message


# --- the pseudo-locale --------------------------------------------------------------------------------

_PSEUDO_LETTERS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "ȧƀƈḓḗƒɠħīĵķŀḿƞǿƥɋřşŧŭṽẇẋẏẑȦƁƇḒḖƑƓĦĪĴĶĿḾȠǾƤɊŘŞŦŬṼẆẊẎẐ",
)
# Kept as they are: placeholders, code (`/video help`, `--model`), Slack's markup (<@U1>, <#C1>, <!date…>),
# emoji shortcodes and environment variables' names.
_KEPT = re.compile(r"(\{[a-z_]*\}|`[^`]*`|<[^>]*>|:[a-z0-9_+-]+:|\bVIDEOBOT_[A-Z_]+\b|\bPerf\b|\bSlack\b|\bvideobot\b)")


def pseudo(text: str) -> str:
    """`text` marked and half as long again, its placeholders, code and markup kept."""
    parts = _KEPT.split(text)
    shown = "".join(part if n % 2 else part.translate(_PSEUDO_LETTERS) for n, part in enumerate(parts))
    letters = sum(1 for part in parts[::2] for ch in part if ch.isalpha())
    return "⟦" + shown + "·" * ((letters + 1) // 2) + "⟧"


class _PseudoTranslations(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return pseudo(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)


# --- Babel: numbers, money, durations, dates and lists, never the server's locale --------------------


def babel_locale(language: str | None = None) -> Locale:
    chosen = language or _language.get()
    if chosen == PSEUDO:
        chosen = DEFAULT_LANGUAGE
    return _parsed(chosen)


@functools.cache
def _parsed(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LANGUAGE)


def number(value: Decimal | float | int) -> str:
    """A number as the reader writes it (`1,234.5`, `1.234,5`), every digit it has kept."""
    return format_decimal(value, locale=babel_locale(), decimal_quantization=False)


def percent(share: int) -> str:
    """`share` whole percents: `62%`, `62 %` in German."""
    return format_percent(Decimal(share) / 100, locale=babel_locale())


def money(micros: int) -> str:
    """Micro-dollars as the reader writes dollars, to the cent, rounded half up: `$2.80`, `2,80 $`."""
    cents = (Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    return format_currency(cents, "USD", locale=babel_locale())


def price(dollars: Decimal) -> str:
    """A price to the tenth of a cent when it has one: `$0.067`."""
    return format_currency(dollars, "USD", locale=babel_locale(), currency_digits=False, decimal_quantization=False)


def seconds(value: Decimal | float | int) -> str:
    """A duration in seconds, as the options take it: `8 s`, `2.5 s` (`2,5 s` in German)."""
    amount = Decimal(str(value))
    # Every digit typed, however many (Babel's arithmetic stops at 28), with the reader's decimal sign.
    shown = f"{amount:f}"
    shown = shown.rstrip("0").rstrip(".") if "." in shown else shown
    return _("{seconds} s", seconds=shown.replace(".", get_decimal_symbol(babel_locale())))


def listing(items: Sequence[str], style: Literal["standard", "or"] = "standard") -> str:
    """`a, b and c` as the language lists (`or` for style="or")."""
    if _language.get() == PSEUDO and len(items) > 1:
        return ", ".join(items[:-1]) + pseudo(" and " if style == "standard" else " or ") + items[-1]
    return format_list(list(items), style=style, locale=babel_locale()) if items else ""


def day(value: dt.date, pattern: str) -> str:
    """A date in a CLDR pattern (`EEE dd MMM`, `d MMMM`) in the reader's language."""
    return _babel_date(value, pattern, locale=babel_locale())


def month_name(value: dt.date) -> str:
    """`January`, `Januar`: a month on its own, as the reader's language names it."""
    return _babel_date(value, "LLLL", locale=babel_locale())


def day_and_month(value: dt.date) -> str:
    """`1 February` in English, `1. Februar`, `2月1日`: the day of a month as the reader's language writes it."""
    if babel_locale().language == "en":
        return _babel_date(value, "d MMMM", locale=babel_locale())
    return format_skeleton("MMMMd", value, locale=babel_locale())


def slack_date(at: float, token: str, fallback: str) -> str:
    """A time Slack shows in each reader's own zone (`{date_short}`, `{time}`…), `fallback` where it can't."""
    return f"<!date^{int(at)}^{token}|{fallback}>"


def language_name(tag: str) -> str:
    """A language by its own name and the reader's (`Deutsch (German)`), for the defaults' answers."""
    own = _parsed(tag).get_display_name(_parsed(tag)) or tag
    read = _parsed(tag).get_display_name(babel_locale()) or tag
    return own if own == read else f"{own} ({read})"
