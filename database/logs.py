"""Structured logging for the cloud processes, with loguru.

JSON lines for machines (one object per line: time, level, logger, message and bound context),
readable lines on a terminal. The standard library's loggers (uvicorn, alembic, celery, psycopg) are
routed into the same sink. Values bound under secret-looking names are masked before writing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

    from database.settings import LogFormat

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|api[_-]?key|private|credential", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
MASK = "***"
ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "alembic")


def mask_url_password(text: str) -> str:
    """Replace the password of every ``scheme://user:password@host`` URL in ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def redact(extra: dict[str, Any]) -> dict[str, Any]:
    """Mask values bound under secret-looking names, and passwords inside URLs."""
    clean: dict[str, Any] = {}
    for key, value in extra.items():
        if _SECRET_KEY.search(key):
            clean[key] = MASK
        elif isinstance(value, str):
            clean[key] = mask_url_password(value)
        else:
            clean[key] = value
    return clean


def _patch(record: Record) -> None:
    record["extra"] = redact(record["extra"])
    record["message"] = mask_url_password(record["message"])


def json_line(record: Record) -> str:
    """One log record as a compact JSON object, without the trailing newline."""
    entry: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
    }
    entry.update(record["extra"])
    if record["exception"] is not None and record["exception"].type is not None:
        entry["exception"] = f"{record['exception'].type.__name__}: {record['exception'].value}"
    return json.dumps(entry, default=str, separators=(",", ":"))


class _JsonSink:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, message: Message) -> None:
        self._stream.write(json_line(message.record) + "\n")
        self._stream.flush()


class _InterceptHandler(logging.Handler):
    """Hands standard-library log records to loguru (the recipe from loguru's documentation)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).log(level, record.getMessage())


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Send every log record of the process to ``stream`` (stderr by default) in one format."""
    out = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    logger.remove()
    logger.configure(patcher=_patch)
    if use_json:
        logger.add(_JsonSink(out), level=level, format="{message}", backtrace=False, diagnose=False)
    else:
        logger.add(
            out,
            level=level,
            format="<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
            "<cyan>{name}</cyan> {message} <dim>{extra}</dim>",
            backtrace=False,
            diagnose=False,
        )
    # The standard library filters at the same level, so records below it are never made (and
    # uvicorn, seeing its loggers at TRACE, would wrap the app in its per-message logger).
    logging.basicConfig(handlers=[_InterceptHandler()], level=logger.level(level).no, force=True)
    # Servers and workers install handlers of their own on their loggers: route those too.
    for name in ROUTED_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers = []
        library_logger.propagate = True
