"""Logging: one line per event, and no secret ever written, whoever logs it."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime


class RedactSecrets(logging.Filter):
    """Replaces any configured secret in a record's final text; a last line of defence."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        changed = False
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
                changed = True
            if record.exc_text and secret in record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        if changed:
            record.msg, record.args = text, None
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
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(DropBoltTokenNotice())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request chatter from the libraries would drown the one line per job event.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
