"""Logging: one line per event, and no secret ever written, whoever logs it."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Credentials by their shape, whoever logs them and whether or not they are this bot's: Slack's tokens
# (xoxb-, xoxp-, xoxe.xoxp-…), app-level and workflow tokens, Perf's keys, response_urls and webhooks (plain,
# JSON-escaped or form-encoded), and the password in any URL (DATABASE_URL's).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[a-z.]*-[A-Za-z0-9-]+"), "xox?-[redacted]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-[redacted]"),
    (re.compile(r"xwfp-[A-Za-z0-9-]+"), "xwfp-[redacted]"),
    (re.compile(r"pk_(?:live|test)_[A-Za-z0-9_]+"), "pk_[redacted]"),
    (re.compile(r"hooks\.slack\.com(?:/|\\/|%2[Ff])[^\s\"'<>&]*"), "hooks.slack.com/[redacted]"),
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), r"\1[redacted]@"),
)
# Bolt writes request bodies into some of its lines ("Invalid request signature detected (…, body: …)"): the
# body, and whatever follows it, is cut.
_BODY = re.compile(r"(\bbody:\s*).*", re.DOTALL)
# A line break (or any control character) in a message would let text from a request forge a log line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
MAX_MESSAGE_CHARS = 4000


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


class RedactSecrets(logging.Filter):
    """Every record's final text: no configured secret, nothing shaped like a credential, no request body,
    one line (the traceback aside), and bounded in length. The last line of defence, whoever logs."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string from a library: say so rather than lose the record
            text = f"{record.msg!r} (unformattable arguments)"
        if record.name.startswith("slack_bolt"):
            text = _BODY.sub(r"\1[not logged]", text)
        if len(text) > MAX_MESSAGE_CHARS:
            text = f"{text[:MAX_MESSAGE_CHARS]}… [{len(text) - MAX_MESSAGE_CHARS} more characters not logged]"
        record.msg, record.args = _escape(redact(text, self._secrets)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        return True


class MalformedHttpInOneLine(logging.Filter):
    """aiohttp logs each request it cannot parse (a bad header, an overlong line) as an error with its
    traceback, and the exception's text quotes the request: one plain line instead, as for any refusal."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(error, HttpProcessingError):
            record.msg, record.args = f"event=request_refused reason=malformed_http error={type(error).__name__}", None
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class DropBoltTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that our shared client's token wins; that is the intent."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_FIELD = re.compile(r"(\w+)=(\S+)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message's key=value pairs (job=…, event=…) become fields too."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        entry.update({key: value for key, value in _FIELD.findall(message) if key not in entry})
        entry["message"] = message
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, secrets: tuple[str, ...], log_format: str = "plain") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(MalformedHttpInOneLine())
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(DropBoltTokenNotice())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request chatter from the libraries would drown the one line per job event.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
