"""Each workspace's Perf key (issue 25): the refusal when nobody pays, App Home's key section and form, and
the answers to setting a key. A key is never shown back: only its last four characters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.domain.settings import MIN_RETENTION_DAYS
from bot.domain.workspace_settings import Expected
from bot.messages._i18n import N_, _, _n, listing, number, slack_date
from bot.messages._text import Message, context_block, escape, mrkdwn, private_answer, usd

PERF_KEY_ACTION_ID = "perf_key_open"
PERF_KEY_CALLBACK_ID = "perf_key_form"
PERF_KEY_BLOCK_ID = "perf_key"
PERF_KEY_INPUT_ID = "perf_key_value"

HOW_TO_ADD_A_KEY = N_(
    "A workspace admin or owner (or whoever installed videobot) adds one in videobot's *Home* tab: open "
    "videobot in the sidebar, then *Home* → *Set the Perf key*. Whoever runs videobot can also run "
    "`videobot workspaces set-key <team id>`."
)


def no_perf_key() -> Message:
    """Every way of starting a job, when the workspace has no Perf key and the operator pays for nobody."""
    nothing = _(
        "Nothing was started: this workspace has no Perf API key yet, so videobot has nothing to pay for videos with."
    )
    return private_answer(f"{nothing} {_(HOW_TO_ADD_A_KEY)}")


def _when(at: float) -> str:
    # Slack's date token shows the reader's own time zone; the fallback is UTC.
    fallback = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown = _("{date} at {time}").format(date="{date_short_pretty}", time="{time}")
    return slack_date(at, shown, fallback)


def key_section(
    *, ends_in: str | None, set_by: str | None, set_at: float | None, operator_pays: bool, can_set: bool
) -> list[dict[str, Any]]:
    """App Home's Perf key section: whether the workspace's own key is set (never the key), who set it and
    when; for the people who may set it, the button that opens the form."""
    if ends_in is not None:
        who = f"<@{escape(set_by)}>" if set_by and set_by.startswith(("U", "W")) else escape(set_by or "?")
        if set_at:
            state = _(
                "🔑 *Perf key*: set, ends in `…{ends_in}` by {who} on {when}. This workspace's videos are paid "
                "with it.",
                ends_in=escape(ends_in),
                who=who,
                when=_when(set_at),
            )
        else:
            state = _(
                "🔑 *Perf key*: set, ends in `…{ends_in}` by {who}. This workspace's videos are paid with it.",
                ends_in=escape(ends_in),
                who=who,
            )
    elif operator_pays:
        state = _("🔑 *Perf key*: not set. Whoever runs videobot pays for this workspace's videos with their own key.")
    else:
        state = _("🔑 *Perf key*: not set. Nobody can make a video here until an admin adds one.")
    blocks: list[dict[str, Any]] = [{"type": "divider"}, {"type": "section", "text": mrkdwn(state)}]
    if can_set:
        blocks.append(
            {
                "type": "actions",
                "block_id": "perf_key_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": PERF_KEY_ACTION_ID,
                        "text": {
                            "type": "plain_text",
                            "text": _("Set the Perf key") if ends_in is None else _("Replace the Perf key"),
                        },
                    }
                ],
            }
        )
        blocks.append(
            context_block(
                _("The key is checked with Perf before it is saved, stored encrypted, and never shown again.")
            )
        )
    return blocks


def perf_key_form() -> dict[str, Any]:
    """The modal an admin types the workspace's Perf key in."""
    return {
        "type": "modal",
        "callback_id": PERF_KEY_CALLBACK_ID,
        "title": {"type": "plain_text", "text": _("Perf API key")},
        "submit": {"type": "plain_text", "text": _("Check and save")},
        "close": {"type": "plain_text", "text": _("Cancel")},
        "blocks": [
            {
                "type": "input",
                "block_id": PERF_KEY_BLOCK_ID,
                "label": {"type": "plain_text", "text": _("This workspace's Perf API key")},
                "hint": {
                    "type": "plain_text",
                    "text": _(
                        "From Perf's dashboard: pk_live_… (or pk_test_… to try). Videos made here are paid by it."
                    ),
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": PERF_KEY_INPUT_ID,
                    "placeholder": {"type": "plain_text", "text": "pk_live_…"},
                    "max_length": 200,
                },
            }
        ],
    }


def perf_key_errors(reason: str) -> dict[str, str]:
    """The form's answer when the key is not saved, on its field as Slack shows errors: `reason` is one of
    the KEY_… constants, said in the current language."""
    return {PERF_KEY_BLOCK_ID: _(reason)}


KEY_EMPTY = N_("Paste the key: it starts with pk_live_ or pk_test_.")
KEY_MALFORMED = N_("That doesn't look like a Perf key: paste it again as one unbroken string (pk_live_… or pk_test_…).")
KEY_REFUSED = N_("Perf refused this key, so it was not saved. Check it in Perf's dashboard and paste it again.")
KEY_NOT_CHECKED = N_("Perf could not be asked about this key just now, so it was not saved. Try again in a minute.")
KEY_NOT_ALLOWED = N_("Only a workspace admin or owner, or whoever installed videobot, can set the Perf key.")
KEY_NO_STORE = N_(
    "This videobot cannot store a key of its own for a workspace: whoever runs it must set "
    "VIDEOBOT_ENCRYPTION_KEY first."
)


# --- a workspace's own settings: `/video admin`, `/video help`, App Home ------------------------------------


# What each setting a workspace may change is (bot/domain/workspace_settings.OVERRIDABLE names them).
_WHAT = {
    "channel-jobs": N_("Jobs a channel may start a day"),
    "person-jobs": N_("Jobs a person may start a day"),
    "channel-budget": N_("What a channel may spend a day"),
    "person-budget": N_("What a person may spend a day"),
    "monthly-budget": N_("What the workspace may spend a month"),
    "approval-over": N_("A job estimated above this waits for an approver"),
    "approval-channel": N_("Where approvers are asked"),
    "allowed-channels": N_("The channels videobot works in"),
    "report-channel": N_("Where the workspace-wide daily report goes"),
    "report-time": N_("When the daily reports go out, in the workspace's time zone"),
    "timezone": N_("The time zone of the workspace's days (quotas, reports)"),
    "retention-days": N_("How long the detail of this workspace's jobs is kept, and its history after an uninstall"),
}


def setting_value(name: str, value: Any) -> str:
    """A workspace setting's value (as bot.domain.workspace_settings parses it) in the reader's words."""
    match name:
        case "channel-jobs" | "person-jobs":
            return _n("{count} job", "{count} jobs", int(value)) if value else _("no limit")
        case "channel-budget" | "person-budget" | "monthly-budget":
            return usd(int(value)) if value else _("no limit")
        case "approval-over":
            return usd(int(value)) if value else _("no approval needed")
        case "approval-channel" | "report-channel":
            return f"<#{escape(str(value))}>" if value else _("none")
        case "report-time":
            hour, minute = value
            return f"{int(hour):02d}:{int(minute):02d}"
        case "allowed-channels":
            return listing([f"<#{escape(str(c))}>" for c in value]) if value else _("every channel")
        case "retention-days":
            return _n("{count} day", "{count} days", int(value)) if value else _("everything kept")
    return escape(str(value))


def settings_lines(rows: Sequence[tuple[str, Any, bool]]) -> str:
    """What applies in this workspace: (name, its value, whether the workspace set it) each."""
    lines = []
    for name, value, own in rows:
        values = {"name": name, "value": setting_value(name, value), "what": _(_WHAT[name]) if name in _WHAT else ""}
        if own:
            lines.append("• " + _("`{name}`: {value} (this workspace). {what}.", **values))
        else:
            lines.append("• " + _("`{name}`: {value}. {what}.", **values))
    return "\n".join(lines)


def workspace_settings_message(rows: Sequence[tuple[str, Any, bool]], *, is_admin: bool) -> Message:
    """`/video admin`: every setting a workspace may change, as it applies here, and how to change it."""
    how = (
        _(
            "Change one with `/video admin set channel-jobs 10` (amounts in dollars: `/video admin set "
            "monthly-budget 500`; channels as #names or IDs, or `all`); `/video admin unset channel-jobs` goes back "
            "to the default whoever runs videobot chose."
        )
        if is_admin
        else _("Workspace admins and owners can change these with `/video admin set …`.")
    )
    head = _("*What applies in this workspace*")
    return private_answer(f"{head}\n{settings_lines(rows)}\n\n{how}")


def workspace_settings_help(rows: Sequence[tuple[str, Any, bool]]) -> str:
    """The lines `/video help` adds where a workspace has settings of its own."""
    own = [row for row in rows if row[2]]
    if not own:
        return ""
    head = _("*This workspace's own settings* (`/video admin` shows them all):")
    return f"\n\n{head}\n" + settings_lines(own)


def workspace_setting_changed(name: str, value: Any, *, removed: bool = False) -> Message:
    """`value`: the setting's, as bot.domain.workspace_settings parses it."""
    shown = setting_value(name, value)
    if removed:
        return private_answer(_("`{name}` is back to the default: {value}.", name=name, value=shown))
    return private_answer(_("`{name}` is now {value} in this workspace.", name=name, value=shown))


def workspace_setting_refused(reason: str) -> Message:
    """`reason`: ADMIN_ONLY, ADMIN_UNAVAILABLE or NOBODY_TO_ASK, said in the current language."""
    return private_answer(_(reason))


ADMIN_ONLY = N_("Only a workspace admin or owner can change this workspace's settings (`/video admin` shows them).")
ADMIN_UNAVAILABLE = N_(
    "This videobot keeps no settings per workspace: whoever runs it sets them for everyone "
    "(and must set VIDEOBOT_ENCRYPTION_KEY for workspaces to have their own)."
)


def unknown_setting(name: str, known: list[str]) -> Message:
    return private_answer(
        _(
            "There is no setting `{name}`. The ones a workspace can change: {known}",
            name=escape(name),
            known=", ".join(f"`{k}`" for k in known),
        )
    )


def _expected(expected: Expected, most: int = 0) -> str:
    match expected:
        case Expected.COUNT:
            return _("a whole number of jobs, 0 for no limit (such as 20)")
        case Expected.DOLLARS:
            return _("an amount in dollars, 0 for no limit (such as 25 or 12.50)")
        case Expected.DOLLARS_RANGE:
            return _("an amount between 0 (no limit) and 1000000 dollars")
        case Expected.CHANNELS:
            return _("channels (#design, or IDs such as C0123ABCD) separated by commas, or `all`")
        case Expected.TIME:
            return _("a time of day as HH:MM, 24-hour (such as 09:00 or 17:30)")
        case Expected.TIMEZONE:
            return _("a time zone name such as Europe/Paris, America/New_York or UTC")
        case Expected.DAYS:
            return _(
                "a number of days, at least {least} (such as 90), or 0 for as long as whoever runs videobot keeps it",
                least=MIN_RETENTION_DAYS,
            )
        case Expected.DAYS_UP_TO:
            return _(
                "a number of days from {least} to {most} (no longer than whoever runs videobot keeps it), or 0 for "
                "their {most}",
                least=MIN_RETENTION_DAYS,
                most=number(most),
            )
        case _:
            return _("one channel (#approvals, or an ID such as C0123ABCD), or `none`")


def bad_setting_value(name: str, expected: Expected, *, most: int = 0) -> Message:
    """`most`: the most a DAYS_UP_TO value may be."""
    return private_answer(_("`{name}` takes {expected}.", name=escape(name), expected=_expected(expected, most)))


NOBODY_TO_ASK = N_(
    "An approval limit needs someone to ask: set `approval-channel` first (the channel where approvers see requests)."
)
