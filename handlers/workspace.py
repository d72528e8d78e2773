"""The workspace a request comes from: every read and write a handler asks for carries it (issue 25)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.request.internals import extract_team_id


def workspace_of(body: Mapping[str, Any]) -> str:
    """The team whose installation serves this request, as Bolt itself finds it in every kind of payload
    (a command's team_id, an action's team, an event's, a modal's app_installed_team_id in Slack Connect);
    "" where the payload names none."""
    return str(extract_team_id(dict(body)) or "")
