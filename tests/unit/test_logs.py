from __future__ import annotations

import io
import json
import logging

from loguru import logger

from database.logs import MASK, configure_logging, mask_url_password, redact


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_level_logger_message_and_context() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    logger.bind(robot_id="r-1", batch_seq=7).info("batch committed")
    logger.debug("not shown below INFO")
    (entry,) = _lines(out)
    assert entry["level"] == "INFO"
    assert entry["message"] == "batch committed"
    assert entry["robot_id"] == "r-1"
    assert entry["batch_seq"] == 7
    assert entry["logger"] == __name__


def test_secrets_are_masked_in_context_and_urls() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    logger.bind(mqtt_password="hunter2", api_token="t0k", url="postgresql://u:pw@h/db").info(
        "connecting to redis://:s3cret@cache:6379/0"
    )
    (entry,) = _lines(out)
    assert entry["mqtt_password"] == MASK
    assert entry["api_token"] == MASK
    assert entry["url"] == f"postgresql://u:{MASK}@h/db"
    assert "s3cret" not in out.getvalue()
    assert "hunter2" not in out.getvalue()


def test_standard_library_loggers_are_routed_into_the_same_sink() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", out)
    logging.getLogger("uvicorn.error").warning("port %d busy", 8000)
    (entry,) = _lines(out)
    assert entry["level"] == "WARNING"
    assert entry["message"] == "port 8000 busy"


def test_exceptions_are_one_field_not_a_traceback_dump() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    try:
        raise ValueError("bad batch")
    except ValueError:
        logger.exception("decode failed")
    (entry,) = _lines(out)
    assert entry["exception"] == "ValueError: bad batch"


def test_console_format_is_readable_text() -> None:
    out = io.StringIO()
    configure_logging("INFO", "console", out)
    logger.info("hello robots")
    text = out.getvalue()
    assert "hello robots" in text
    assert not text.startswith("{")


def test_url_masking_leaves_urls_without_password_alone() -> None:
    assert mask_url_password("mqtt://broker:1883") == "mqtt://broker:1883"
    assert mask_url_password("a postgresql://u:p@h/d b") == f"a postgresql://u:{MASK}@h/d b"
    assert redact({"count": 3, "secret_key": "x"}) == {"count": 3, "secret_key": MASK}


def test_standard_library_records_below_the_level_are_never_made() -> None:
    """uvicorn wraps the app in its per-message trace logger when its loggers are at TRACE:
    the standard library must filter at the configured level, not hand everything over."""
    from uvicorn.config import Config
    from uvicorn.middleware.message_logger import MessageLoggerMiddleware

    out = io.StringIO()
    configure_logging("WARNING", "json", out)
    assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING
    logging.getLogger("uvicorn.error").info("below the level")
    assert out.getvalue() == ""

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    config = Config(app, log_config=None)
    config.load()
    assert not isinstance(getattr(config.loaded_app, "app", None), MessageLoggerMiddleware)
