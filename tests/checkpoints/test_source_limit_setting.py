"""NEOSAFE_SOURCE_MAX_BYTES reaches every source client the application layer makes."""

from __future__ import annotations

import pytest

from app.checkpoints import Checkpoints
from app.picture import BabyNotFound
from tests.families import CASE_V_BABY


async def test_the_deployers_limit_is_the_one_each_source_is_read_with(settings, sources):
    services = Checkpoints.wire(settings.model_copy(update={"source_max_bytes": 1_000}), sources=sources)
    async with services.running():
        # No answer fits in 1 kB, the unit's own record of the baby included: nobody can be said to be found.
        with pytest.raises(BabyNotFound) as refused:
            await services.picture(CASE_V_BABY)

    too_large = [s for s in refused.value.sources if "more than 1 kB" in s.detail]
    assert too_large, [(s.name, s.status, s.detail) for s in refused.value.sources]
    assert all(s.status == "unavailable" for s in too_large)
