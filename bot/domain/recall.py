"""The words of a prompt, as `/video history` matches them: pure, so the index and the search agree."""

from __future__ import annotations

import re
from enum import StrEnum

# A word longer than this is cut: nobody searches for more, and the index's keys stay short.
MAX_WORD_CHARS = 40
# The words a history search may name: each is one index probe per candidate job.
MAX_SEARCH_WORDS = 8
# The newest jobs of a person holding the search's longest word that are checked for the other words:
# what keeps a search's cost flat however long the person's history.
MAX_CANDIDATES = 1000
# The jobs a history answer lists.
HISTORY_LIMIT = 10

_WORD = re.compile(r"\w+")


def prompt_words(text: str) -> list[str]:
    """The distinct words of `text`, case-folded, in order of first appearance: `Storm, storm!` → `storm`."""
    words = (word[:MAX_WORD_CHARS] for word in _WORD.findall(text.casefold()))
    return list(dict.fromkeys(words))


def search_order(words: list[str]) -> list[str]:
    """The words to look up, the likeliest rarest first (the longest): it picks the candidates."""
    return sorted(words, key=lambda word: (-len(word), word))


class ShowOutcome(StrEnum):
    """What `/video show <job id>` found."""

    SHOWN = "shown"
    NO_ID = "no_id"
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    UNCHECKED = "unchecked"  # Slack could not say whether the person is an admin
    UNFINISHED = "unfinished"
    NO_VIDEO = "no_video"  # it ended without a video: failed, unknown, cancelled
