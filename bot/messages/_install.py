"""The install pages (many workspaces, issue 25): what a person reads in the browser after *Add to Slack*,
and what Slack shows when a workspace that has not installed videobot uses it.

No person's locale is known on these pages (the browser's Accept-Language is not the Slack user's, and a
workspace not installed has no channel or person to ask): the callers build them in the deployment's language
(`speaking()`, VIDEOBOT_LANGUAGE). The words are translated first, then escaped for HTML, and only then is the
markup (a workspace's name in bold, the example command as code) put in."""

from __future__ import annotations

import html

from bot.messages._i18n import N_, _, language
from bot.messages._text import Message, private_answer

# Bolt's reasons for a failed install (AsyncFailureArgs.reason), in words a person can act on.
_FAILURE_REASONS = {
    "access_denied": N_("The install was cancelled on Slack's page, so videobot was not added."),
    "invalid_browser": N_(
        "This page was opened in another browser, or cookies are blocked, so the install could not be "
        "matched to the one you started."
    ),
    "invalid_state": N_("This install link has expired or was already used."),
    "missing_code": N_("Slack did not send the install back to videobot."),
    "invalid_code": N_("Slack did not accept the install (the link may have been used already)."),
    "storage_error": N_("videobot could not save the install. Nothing was stored; please try again in a minute."),
}
_UNKNOWN_FAILURE = N_("Something went wrong while adding videobot to Slack.")

_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}</style>
</head><body>
<h1>{title}</h1>
{body}
</body></html>
"""


def _html(translated: str, /, **markup: str) -> str:
    """`translated` escaped, then its `{placeholders}` filled with `markup` (already HTML)."""
    return html.escape(translated, quote=False).format(**markup)


def _page(title: str, *paragraphs: str) -> str:
    return _PAGE.format(
        lang=html.escape(language(), quote=True),
        title=html.escape(title),
        body="\n".join(f"<p>{p}</p>" for p in paragraphs),
    )


def install_success_page(workspace_name: str, *, org_wide: bool) -> str:
    """After a completed install: where it went, and the two things to do next."""
    where = f"<strong>{html.escape(workspace_name)}</strong>" if workspace_name else None
    if org_wide:
        scope = (
            _html(
                _(
                    "videobot is installed for the organisation {organisation}. An org admin chooses which "
                    "workspaces get it (Slack admin → Integrations → Installed apps)."
                ),
                organisation=where,
            )
            if where
            else _html(
                _(
                    "videobot is installed for your organisation. An org admin chooses which workspaces get it "
                    "(Slack admin → Integrations → Installed apps)."
                )
            )
        )
    else:
        scope = (
            _html(_("videobot is installed in {workspace}."), workspace=where)
            if where
            else _html(_("videobot is installed in your workspace."))
        )
    example = html.escape("/video " + _("a paper boat on a rainy street"), quote=False)
    return _page(
        _("videobot is installed"),
        scope,
        _html(
            _(
                "Next: a workspace admin adds the Perf API key in videobot's App Home (open videobot in Slack, "
                "Home tab). Until a key is set, videobot explains how to add one instead of making videos."
            )
        ),
        _html(_("Then try it in any channel: {example}."), example=f"<code>{example}</code>"),
        _html(_("You can close this page.")),
    )


def install_failure_page(reason: str, install_url: str) -> str:
    """After a failed install: what went wrong in words, nothing stored, and a link to start again."""
    what = _FAILURE_REASONS.get(reason, _UNKNOWN_FAILURE)
    again = _html(_("Try again"))
    return _page(
        _("videobot was not installed"),
        _html(_(what)),
        _html(_("Nothing was saved.")),
        f'<a href="{html.escape(install_url, quote=True)}">{again}</a>',
    )


def not_installed() -> Message:
    """A command from a workspace with no installation (never installed, or uninstalled since)."""
    return private_answer(
        _(
            "videobot is not installed in this workspace (or was removed). An admin can add it again from "
            "the videobot install page."
        )
    )
