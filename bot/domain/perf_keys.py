"""Which Perf key pays for a workspace's jobs (issue 25), and the refusal when none does. Pure.

A workspace's own key (set by its admins in App Home, or by the operator) pays for its jobs; without one,
the operator's `PERF_API_KEY`, when set. Perf's limits are per key: the jobs paid by one key share one
account line (its concurrent slots, its jobs a day), and `line` names that line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.quotas import ChannelNotAllowed

# The line of the jobs paid by the operator's key, shared by every workspace without a key of its own.
OPERATOR_LINE = ""


@dataclass(frozen=True)
class PerfKey:
    value: str = field(repr=False)  # a secret: never in a repr or a log line
    own: bool  # the workspace's own key; False: the operator's PERF_API_KEY
    line: str  # the account line it belongs to: the team for its own key, OPERATOR_LINE for the operator's

    @property
    def ends_in(self) -> str:
        return self.value[-4:] if len(self.value) >= 12 else ""


class NoPerfKey(ChannelNotAllowed):
    """The workspace has no Perf key and the operator set none: nothing can be started or paid for.

    A kind of "not allowed here", so that every way of starting a job (command, form, shortcut, rerun, remix,
    workflow step) refuses it as it refuses a channel, having stored nothing; its answer says how an admin
    adds a key."""

    def __init__(self, team_id: str) -> None:
        super().__init__(team_id)
        self.team_id = team_id
