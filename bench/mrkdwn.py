""" "Make a video of this" on a message of Slack's maximum length: what reading its markup costs, as a ratio to
a plain message of the same length, measured in the same run.

    python -m bench.mrkdwn

Each figure is the best of 5 runs of `plain_words` on a 40,000-character message made of one repeated unit
(lone formatting marks of each kind, nesting, entities). Goal: every ratio within a few times a plain message;
the quadratic reading this replaced took 7.85 s (thousands of times a plain one).
"""

from __future__ import annotations

import argparse
import sys
import time

from bot.domain.mrkdwn import MAX_MESSAGE_CHARS, plain_words

UNITS = ["*a ", "_a ", "~a ", "`a ", "*_~`a ", "*a *b* ", "```", ":a", "<!a^", "<@U1|"]
GOAL_RATIO = 5.0


def _best(text: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        plain_words(text, {})
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    missed = 0
    plain = ("a lighthouse in a storm " * (MAX_MESSAGE_CHARS // 24 + 1))[:MAX_MESSAGE_CHARS]
    baseline = _best(plain)
    print(f"| message of {MAX_MESSAGE_CHARS:,} characters | ms | × plain | goal ≤ {GOAL_RATIO:g}× |")
    print("| --- | --- | --- | --- |")
    print(f"| plain words | {baseline * 1000:.1f} | 1.0 | |")
    for unit in UNITS:
        text = (unit * (MAX_MESSAGE_CHARS // len(unit) + 1))[:MAX_MESSAGE_CHARS]
        cost = _best(text)
        ratio = cost / baseline
        missed += ratio > GOAL_RATIO
        print(f"| {unit!r} repeated | {cost * 1000:.1f} | {ratio:.1f} | {'met' if ratio <= GOAL_RATIO else 'MISSED'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
