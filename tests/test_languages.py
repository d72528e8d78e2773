"""Languages (issue 26): the catalogues kept in step with the code, every shipped language complete with its
placeholders and options intact, every surface rendered in each language still a payload Slack takes, the
pseudo-locale leaving no English behind, and plural forms as each language counts."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot import messages
from bot.domain import catalogue
from bot.messages import _i18n
from bot.messages._i18n import PSEUDO, _, _n, speaking
from tests.fakes.blockkit import message_problem, view_problem
from tests.gallery import Shown, every_surface

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "videobot.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "_n": (1, 2), "N_": None}
SHIPPED = [language for language in _i18n.shipped() if language != "en"]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
# What no language may change: options and subcommands as typed, settings' names, emoji shortcodes.
KEPT = re.compile(r"--[a-z]+|/video(?: [a-z]+)?|/invite|VIDEOBOT_[A-Z_]+|:[a-z0-9_+-]+:|`[^` ]+`")


def _po(language: str) -> Path:
    return LOCALES / language.replace("-", "_") / "LC_MESSAGES" / "videobot.po"


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language.replace("-", "_") if language else None)


def _ids(catalog: Catalog) -> set[Any]:
    return {message.id for message in catalog if message.id}


def _extracted() -> set[Any]:
    found = extract_from_dir(ROOT, [("bot/messages/**.py", "python")], keywords=KEYWORDS)
    return {message for _file, _line, message, _comments, _context in found}


# --- the catalogues and the code --------------------------------------------------------------------------


def test_the_template_holds_exactly_the_strings_in_the_code() -> None:
    in_code, in_template = _extracted(), _ids(_read(TEMPLATE))
    missing, stale = in_code - in_template, in_template - in_code
    assert not missing, f"not in locales/videobot.pot (run pybabel extract, see adding-a-language.md): {missing}"
    assert not stale, f"in locales/videobot.pot but no longer in the code: {stale}"


@pytest.mark.parametrize("language", SHIPPED)
def test_each_catalogue_is_up_to_date_with_the_template(language: str) -> None:
    template, catalog = _ids(_read(TEMPLATE)), _read(_po(language), language)
    assert _ids(catalog) == template, "run pybabel update (docs/development/adding-a-language.md)"
    assert not catalog.obsolete, f"obsolete entries left in {language}: {list(catalog.obsolete)[:5]}"


@pytest.mark.parametrize("language", SHIPPED)
def test_each_shipped_language_translates_every_string(language: str) -> None:
    catalog = _read(_po(language), language)
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not all(_forms(m)))]
    assert not untranslated, f"{language} lacks {len(untranslated)} translations, e.g. {untranslated[:3]}"
    for message in catalog:
        if message.id and isinstance(message.id, tuple):
            assert len(_forms(message)) == catalog.num_plurals, f"{language}: plural forms of {message.id[0]!r}"


def _forms(message: Message) -> list[str]:
    found = message.string
    return [str(text or "") for text in found] if isinstance(found, tuple | list) else [str(found or "")]


def _english(message: Message) -> list[str]:
    return [str(text) for text in message.id] if isinstance(message.id, tuple | list) else [str(message.id)]


@pytest.mark.parametrize("language", SHIPPED)
def test_translations_keep_the_placeholders_options_and_markup_of_the_english(language: str) -> None:
    """A placeholder dropped or renamed would raise or show the wrong value; an option translated would not
    work when typed; Slack's markup (`*bold*`, links) must stay balanced."""
    for message in _read(_po(language), language):
        if not message.id or not all(_forms(message)):
            continue
        english = _english(message)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in english))
        kept = set().union(*(KEPT.findall(text) for text in english))
        for form in _forms(message):
            found = set(PLACEHOLDER.findall(form))
            # A singular form may say "one" in words in place of {count}; nothing else may be missing.
            assert found <= wanted and wanted - found <= {"count"}, f"{language}: {english[0]!r} → {form!r}"
            assert set(KEPT.findall(form)) >= kept - _plural_only(english), f"{language}: {english[0]!r} → {form!r}"
            assert form.count("`") % 2 == 0 and form.count("*") % 2 == english[0].count("*") % 2, form


def _plural_only(english: list[str]) -> set[str]:
    """What only one of the English forms has (the plural's example, say): a language may keep either."""
    if len(english) < 2:
        return set()
    one, other = set(KEPT.findall(english[0])), set(KEPT.findall(english[1]))
    return one ^ other


# --- every surface, in every language --------------------------------------------------------------------


def _rendered(language: str) -> list[Shown]:
    with speaking(language):
        return every_surface()


def _problem(shown: Shown) -> str | None:
    match shown.kind:
        case "view":
            return view_problem(shown.payload)
        case "message":
            found = message_problem(shown.payload)
            return None if found is None else f"{found[0]}: {found[1]}"
        case "errors":
            too_long = [key for key, text in shown.payload.items() if not text or len(text) > 2_000]
            return f"form errors too long or empty: {too_long}" if too_long else None
    return None


def test_the_gallery_shows_every_public_message_function() -> None:
    """A message function added to bot.messages without a place in tests/gallery.py would escape every
    language check below."""
    source = inspect.getsource(inspect.getmodule(every_surface))  # type: ignore[arg-type]
    builders = {
        name
        for name, value in vars(messages).items()
        if inspect.isfunction(value) and value.__module__.startswith("bot.messages._") and name in messages.__all__
    }
    not_rendering = {
        "clip", "escape", "emoji", "form_place", "form_values", "deny_form_values", "preset_values",
        "plain_text_version", "message_link", "progress_bar", "video_filename", "replacing_the_answer",
        "seconds_text", "usd", "ordinal", "settings_line", "form_cost_text", "form_refused", "resets_text",
        "admission_refused_for",
        "configure", "language", "language_name", "month_name", "resolve", "shipped", "slack_locale", "speaking",
        "supported",
        "workspace_language",
    }  # fmt: skip
    missing = sorted(name for name in builders - not_rendering if not re.search(rf"messages\.{name}\b", source))
    assert not missing, f"add these to tests/gallery.py: {missing}"


@pytest.mark.parametrize("language", ["en", PSEUDO, *SHIPPED])
def test_every_surface_is_a_payload_slack_takes_in_every_language(language: str) -> None:
    """Block Kit's limits hold in every language: 24 characters for a form's title, submit and close, 75
    for a button or an option, 3,000 for a section (the fake Slack's own check)."""
    problems = [(shown.name, problem) for shown in _rendered(language) if (problem := _problem(shown))]
    assert not problems, f"{language}: {problems[:5]}"


def _texts(node: Any) -> Iterator[str]:
    """Every text a person reads in a payload (not ids, values or urls)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "filter":  # which conversations a menu lists
                continue
            if key in ("text", "title", "placeholder", "label", "hint", "description") or isinstance(
                value, (dict, list)
            ):
                yield from _texts(value) if not isinstance(value, str) else [value]
            elif isinstance(value, str) and key not in (
                "type", "action_id", "block_id", "callback_id", "value", "url", "private_metadata", "response_type",
                "style", "initial_value", "initial_conversation", "image_url",
            ):  # fmt: skip
                yield value
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)
    elif isinstance(node, str):
        yield node


# What the pseudo-locale leaves as it is, and rightly: code and markup, names, the catalogue's facts, and
# what Babel formats in the pseudo-locale's English (weekdays and months).
_NOT_WORDS = re.compile(
    r":[a-z0-9_+-]+:|`[^`]*`|<[^>]*>|https?://\S+|\b\w*_\w*\b|\bvb_\w+|\b(?:Perf|Slack|videobot|AM|PM)\b"
    r"|\b(?:veo-3|runway-gen3|luma-dream-machine)\b"
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"
    r"|\b(?:January|February|March|April|June|July|August|September|October|November|December)\b"
)
_FACTS = {
    *catalogue.MODELS,
    *(word for model in catalogue.MODELS.values() for word in model.provider.split()),
    "Europe",
    "Berlin",
}


def test_the_pseudo_locale_leaves_no_english_in_any_surface() -> None:
    """Every string a person reads comes from the catalogue: in the pseudo-locale each is marked, so a word
    of plain English left over is a string that was never wrapped, or built outside bot.messages."""
    with speaking(PSEUDO):  # languages are named in their own words, and the reader's (English here)
        names = {word for tag in _i18n.shipped() for word in re.findall(r"[A-Za-z]+", _i18n.language_name(tag))}
    leftovers = []
    for shown in _rendered(PSEUDO):
        for text in _texts(shown.payload):
            for word in re.findall(r"[A-Za-z]{2,}", _NOT_WORDS.sub(" ", text)):
                if word not in _FACTS | names:
                    leftovers.append((shown.name, word, text[:120]))
    assert not leftovers, f"English left over: {leftovers[:10]}"


def test_every_string_said_at_run_time_is_in_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A string built where the extractor can't see it (inside an f-string, a variable never marked with N_)
    would be said, but never reach a translator."""
    said: set[Any] = set()
    pseudo = _i18n._PseudoTranslations

    def gettext(self: Any, message: str) -> str:
        said.add(message)
        return message

    def ngettext(self: Any, one: str, many: str, count: int) -> str:
        said.add((one, many))
        return many

    monkeypatch.setattr(pseudo, "gettext", gettext)
    monkeypatch.setattr(pseudo, "ngettext", ngettext)
    _rendered(PSEUDO)
    unknown = said - _ids(_read(TEMPLATE))
    assert not unknown, f"said but not in locales/videobot.pot: {unknown}"


def test_the_pseudo_locale_marks_and_lengthens_every_string() -> None:
    with speaking(PSEUDO):
        shown = _("Cancel this video?")
        counted = _n("{count} job", "{count} jobs", 3)
    assert shown.startswith("⟦") and shown.endswith("⟧") and len(shown) >= len("Cancel this video?") * 1.4
    assert "3" in counted and "job" not in counted


# --- plural forms, as each language counts -----------------------------------------------------------------


def _catalogue_in(tmp: Path, language: str, forms: list[str]) -> None:
    catalog = Catalog(locale=language, domain="videobot")
    catalog.add(("{count} job", "{count} jobs"), tuple(forms))
    path = tmp / language / "LC_MESSAGES" / "videobot.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as po:
        write_po(po, catalog)


@pytest.fixture
def some_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """French and Japanese catalogues of one plural string each, in place of the shipped ones."""
    # CLDR gives French three forms: one (0 and 1), many (a million, "un million de tâches"), other.
    _catalogue_in(tmp_path, "fr", ["{count} tâche", "{count} de tâches", "{count} tâches"])
    _catalogue_in(tmp_path, "ja", ["{count} 件のジョブ"])
    monkeypatch.setattr(_i18n, "locales_dir", lambda: tmp_path)
    for cached in (_i18n.shipped, _i18n._translations):
        cached.cache_clear()
    yield
    for cached in (_i18n.shipped, _i18n._translations):
        cached.cache_clear()


def test_plural_forms_follow_each_languages_rules(some_languages: None) -> None:
    def jobs(language: str, count: int) -> str:
        with speaking(language):
            return _n("{count} job", "{count} jobs", count)

    assert [jobs("en", n) for n in (0, 1, 2)] == ["0 jobs", "1 job", "2 jobs"]
    # French counts 0 (and 1) as one.
    assert [jobs("fr", n) for n in (0, 1, 2)] == ["0 tâche", "1 tâche", "2 tâches"]
    assert jobs("fr", 1_000_000) == "1\u202f000\u202f000 de tâches"
    # Japanese has one form for every count.
    assert [jobs("ja", n) for n in (1, 2, 1000)] == ["1 件のジョブ", "2 件のジョブ", "1,000 件のジョブ"]


# --- which language serves whom ---------------------------------------------------------------------------


def test_slacks_codes_become_real_locales_and_find_the_nearest_shipped_language(some_languages: None) -> None:
    assert _i18n.slack_locale("es-LA") == "es-419"
    assert _i18n.slack_locale("pt-BR") == "pt-BR" and _i18n.slack_locale("") is None
    assert _i18n.supported("fr-FR") == "fr" and _i18n.supported("ja-JP") == "ja"
    assert _i18n.supported("ko-KR") is None and _i18n.resolve("ko-KR", "fr") == "fr"
    assert _i18n.resolve(None, "xx-not-a-locale") == "en"


def test_numbers_money_and_lists_are_the_readers_never_the_servers() -> None:
    with speaking("en"):
        english = (messages.usd(1_234_500_000), messages.seconds_text(Decimal("2.5")), _i18n.listing(["a", "b", "c"]))
    assert english == ("$1,234.50", "2.5 s", "a, b, and c")
    with speaking("de"):
        german = (messages.usd(1_234_500_000), messages.seconds_text(Decimal("2.5")), _i18n.listing(["a", "b", "c"]))
    assert german[0] == "1.234,50\xa0$" and german[1].startswith("2,5") and german[2] == "a, b und c"
    assert json.dumps(german)  # plain strings, ready for Slack
