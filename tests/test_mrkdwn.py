"""A message's markup read as plain words costs about what a plain message of the same length costs.

"Make a video of this" reads the message within the shortcut's ack; the formatting marks were once read by a
regex that looked from every lone mark to the end of the message (7.85 s for 40,000 characters, Slack's
maximum), and every other ack waited. These compare each adversarial message with a plain one of the same
length in the same run: a ratio, not a time, so a slow machine does not fail them and a quadratic reading does.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.mrkdwn import MAX_MESSAGE_CHARS, plain_words

# A linear reading stays within a small factor of a plain message; the quadratic one was hundreds of times it.
MAX_RATIO = 25
PLAIN = ("a lighthouse in a storm " * (MAX_MESSAGE_CHARS // 24 + 1))[:MAX_MESSAGE_CHARS]
MARKUP = "*_~` \n<>@|#!:a^"


def _cost(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        plain_words(text, {})
        best = min(best, time.perf_counter() - started)
    return best


def _filled(unit: str) -> str:
    return (unit * (MAX_MESSAGE_CHARS // len(unit) + 1))[:MAX_MESSAGE_CHARS]


def _assert_about_as_cheap_as_plain(text: str) -> None:
    plain = _cost(PLAIN)
    cost = _cost(text)
    assert cost <= MAX_RATIO * max(plain, 1e-3), (cost, plain)


def test_lone_marks_across_a_whole_message_cost_about_a_plain_message() -> None:
    for unit in ["*a ", "_a ", "~a ", "`a ", "*_~`a ", "* *", "*a*b ", "```", ":a", "<!a^", "<@U1|"]:
        _assert_about_as_cheap_as_plain(_filled(unit))


def test_deeply_nested_marks_cost_about_a_plain_message() -> None:
    depth = MAX_MESSAGE_CHARS // 8
    _assert_about_as_cheap_as_plain("*a " * depth + "b" + " a*" * depth)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=MARKUP, min_size=1, max_size=12))
def test_any_repeated_markup_costs_about_a_plain_message(unit: str) -> None:
    _assert_about_as_cheap_as_plain(_filled(unit))


def test_a_message_longer_than_slacks_limit_is_read_up_to_the_limit() -> None:
    words = plain_words("*storm* " + "x" * (2 * MAX_MESSAGE_CHARS), {})
    assert words.startswith("storm x")
    assert len(words) <= MAX_MESSAGE_CHARS


def test_marks_still_read_as_slack_shows_them() -> None:
    names = {"U1": "Alice"}
    assert plain_words("<@U1> wants *a lighthouse* in a _storm_ ~now~ `x`", names) == (
        "Alice wants a lighthouse in a storm now x"
    )
    assert plain_words("*_both_*", {}) == "both"
    assert plain_words("*a *b *c* b* a*", {}) == "a b c b a"
    assert plain_words("snake_case_name and 2*3*4", {}) == "snake_case_name and 2*3*4"
    assert plain_words("*not\nbold*", {}) == "*not\nbold*"
