"""Logs a trust can collect: JSON lines with a request id, and never an NHS number or a query string."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest

from app.main import create_app
from app.web.logging import JsonFormatter, TextFormatter
from tests.families import CASE_V_BABY


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """The request log as a trust's collector would get it: JSON, formatted as each line is written."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("neosafe.requests")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


@pytest.fixture
async def http(settings, sources):
    settings.outbox_worker = False
    app = create_app(settings, sources=sources)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_request_is_one_json_line_with_its_id_and_route_template(http, request_log):
    response = await http.get(
        f"/api/patients/{CASE_V_BABY}/picture?checkpoint=admission", headers={"X-Request-Id": "epr-42"}
    )

    assert response.headers["X-Request-Id"] == "epr-42"
    [line] = lines(request_log)
    assert line["request_id"] == "epr-42"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/patients/{number}/picture", 401)
    assert line["level"] == "INFO" and line["logger"] == "neosafe.requests"
    assert CASE_V_BABY not in request_log.getvalue() and "checkpoint" not in request_log.getvalue()


async def test_a_request_without_a_usable_id_gets_a_new_one(http, request_log):
    first = await http.get("/healthz", headers={"X-Request-Id": "two words\n{}"})
    second = await http.get("/healthz")

    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(len(i) == 32 for i in ids) and ids[0] != ids[1]
    assert [line["request_id"] for line in lines(request_log)] == ids


def test_formatters_redact_nhs_numbers_and_query_strings_wherever_they_appear():
    try:
        raise ValueError("no baby 999 010 1000 at https://epr.example/fhir/Patient?identifier=x|9990101000")
    except ValueError:
        record = logging.getLogger("neosafe.test").makeRecord(
            "neosafe.test", logging.ERROR, __file__, 1, "asked about %s", ("9990101000",), sys.exc_info()
        )

    record.url = "/fhir/Patient?identifier=9990101000"  # as `extra=` would set it

    as_json = JsonFormatter().format(record)
    as_text = TextFormatter().format(record)

    entry = json.loads(as_json)
    assert entry["message"] == "asked about [number removed]"
    assert entry["url"] == "/fhir/Patient?[query removed]"
    assert (
        "ValueError: no baby [number removed] at https://epr.example/fhir/Patient?[query removed]" in entry["exception"]
    )
    for output in (as_json, as_text):
        assert "9990101000" not in output and "999 010 1000" not in output and "identifier=" not in output
