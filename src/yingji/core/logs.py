"""JSON logs, one object a line, carrying the request id of the request that wrote them."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("yingji_request_id", default=None)

#: query parameters whose values are credentials (``/ws?token=…``), redacted in every log line
SECRET_PARAMETERS = ("token", "access_token", "password", "secret", "key", "signature")
_SECRET_IN_QUERY = re.compile(
    r"((?:[?&;]|%3F|%26)(?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&;\s\"']*", re.IGNORECASE
)
#: the loggers of the server that write request lines (uvicorn's WebSocket lines carry the
#: query string) and our own
REDACTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "yingji")


def redact(text: str) -> str:
    """``text`` with the values of credential query parameters replaced by ``[redacted]``."""
    if "=" not in text:
        return text
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Never let a token in a URL reach a log: the record's message is redacted in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_secrets_in_logs() -> None:
    """Install :class:`RedactSecrets` on the loggers that write URLs (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            # The wall clock, not business time: logs are read against other systems' logs.
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("method", "path", "status", "duration_ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    handler.addFilter(RedactSecrets())  # also records of loggers below the listed ones
    redact_secrets_in_logs()
