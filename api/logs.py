"""The service's logs: one line per record on stderr, JSON by default, text for development.

`dispatch serve` (through uvicorn's `log_config`, so every server process gets it) and the
worker processes (`api.background.worker_main`) configure logging with `logging_config`; the
app itself configures nothing (tests and embedders keep their own logging).

A JSON line holds `time` (UTC, ISO 8601 to the millisecond), `level`, `logger`, `message`,
the `request_id` of the request being handled when there is one, `exception` (the traceback)
when one is logged, and the extra fields a record carries (the access log's `method`, `path`,
`route`, `status`, `duration_ms`). The request id lives in a context variable set by
`api.http.request_log.RequestLog` for the time of a request: every line logged while handling
it, on the event loop or in a worker thread, carries it.

What is logged is ids, statuses and counts: never request bodies, query strings, customers'
names, phones or addresses, passwords or tokens.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

#: the id of the request being handled (None outside a request)
REQUEST_ID: ContextVar[str | None] = ContextVar("fieldroute_request_id", default=None)

#: attributes every `LogRecord` has (not extra fields), and uvicorn's coloured duplicate
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
    "request_id",
}
#: libraries whose INFO lines are noise or may name a subscriber's URL with its query
_QUIET = ("httpx", "httpcore", "multipart", "python_multipart", "asyncio")


def current_request_id() -> str | None:
    return REQUEST_ID.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (ASCII only: newlines and odd characters in a
    message are escaped, so a line is always a whole record)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                plain = isinstance(value, str | int | float | bool | None)
                entry[key] = value if plain else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`2026-06-18 09:00:00,123 INFO api.access [request id] message` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id()
        record.request = f" [{request_id}]" if request_id else ""
        return super().format(record)


def logging_config(log_format: LogFormat = "json", level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: the root logger to stderr in `log_format` at
    `level`; uvicorn's loggers through the root (its own access log off: the service writes
    its own, without query strings); chatty libraries at WARNING."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    name = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": name},
        "loggers": {
            "uvicorn": {"handlers": [], "level": name, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": name, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            **{quiet: {"level": "WARNING"} for quiet in _QUIET},
        },
    }


def configure_logging(log_format: LogFormat = "json", level: str = "info") -> None:
    """Configure this process's logging (see `logging_config`); Python's warnings become
    log records too, so stderr holds nothing but log lines."""
    logging.config.dictConfig(logging_config(log_format, level))
    logging.captureWarnings(True)
