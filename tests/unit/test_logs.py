"""Production logs are one JSON object per line, extras and exceptions included."""

from __future__ import annotations

import json
import logging
import sys

from allocation.entrypoints.web.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extras():
    record = logging.makeLogRecord(
        {"name": "allocation", "levelname": "WARNING", "msg": "sent %d", "args": (3,), "unsent": 2}
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "allocation"
    assert entry["message"] == "sent 3"
    assert entry["unsent"] == 2
    assert entry["time"].endswith("+00:00")


def test_exceptions_are_kept():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exception"]
