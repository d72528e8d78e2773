"""The install pages (many workspaces, issue 25): what a person reads in the browser after *Add to Slack*,
and what Slack shows when a workspace that has not installed videobot uses it."""

from __future__ import annotations

import html

from bot.messages._text import Message, private_answer

# Bolt's reasons for a failed install (AsyncFailureArgs.reason), in words a person can act on.
_FAILURE_REASONS = {
    "access_denied": "The install was cancelled on Slack's page, so videobot was not added.",
    "invalid_browser": (
        "This page was opened in another browser, or cookies are blocked, so the install could not be "
        "matched to the one you started."
    ),
    "invalid_state": "This install link has expired or was already used.",
    "missing_code": "Slack did not send the install back to videobot.",
    "invalid_code": "Slack did not accept the install (the link may have been used already).",
    "storage_error": "videobot could not save the install. Nothing was stored; please try again in a minute.",
}
_UNKNOWN_FAILURE = "Something went wrong while adding videobot to Slack."

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}</style>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _page(title: str, *paragraphs: str) -> str:
    return _PAGE.format(title=html.escape(title), body="\n".join(f"<p>{p}</p>" for p in paragraphs))


def install_success_page(workspace_name: str, *, org_wide: bool) -> str:
    """After a completed install: where it went, and the two things to do next."""
    where = html.escape(workspace_name) if workspace_name else "your workspace"
    scope = (
        f"videobot is installed for the organisation <strong>{where}</strong>. An org admin chooses which "
        "workspaces get it (Slack admin → Integrations → Installed apps)."
        if org_wide
        else f"videobot is installed in <strong>{where}</strong>."
    )
    return _page(
        "videobot is installed",
        scope,
        "Next: a workspace admin adds the Perf API key in videobot's App Home (open videobot in Slack, "
        "Home tab). Until a key is set, videobot explains how to add one instead of making videos.",
        "Then try it in any channel: <code>/video a paper boat on a rainy street</code>.",
        "You can close this page.",
    )


def install_failure_page(reason: str, install_url: str) -> str:
    """After a failed install: what went wrong in words, nothing stored, and a link to start again."""
    what = _FAILURE_REASONS.get(reason, _UNKNOWN_FAILURE)
    return _page(
        "videobot was not installed",
        html.escape(what),
        "Nothing was saved.",
        f'<a href="{html.escape(install_url, quote=True)}">Try again</a>',
    )


def not_installed() -> Message:
    """A command from a workspace with no installation (never installed, or uninstalled since)."""
    return private_answer(
        "videobot is not installed in this workspace (or was removed). An admin can add it again from "
        "the videobot install page."
    )
