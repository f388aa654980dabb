"""Fixtures the web tests share: a nurse's API client on the live NeoSafe, and cleanup of what a test saved."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.written import delete_written


@pytest.fixture
def api(live) -> Iterator[httpx.Client]:
    with live.client("nurse") as client:
        yield client


@pytest.fixture
def saved(fhir) -> Iterator[list[str]]:
    """Ids of the assessments a test saves for a seeded family; afterwards, what they wrote is deleted."""
    ids: list[str] = []
    yield ids
    for assessment_id in ids:
        delete_written(fhir["neonatal"], assessment_id)
