"""Two NeoSafe processes on one PostgreSQL database: no entry sent twice, no session tied to one process."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest

from app.assessments import OutboxEntry, deliver_due
from app.checkpoints import DEMO_USERS
from app.main import create_app
from app.web.deps import COOKIE
from tests.answering import answer_everything
from tests.assessments.test_outbox import Faults
from tests.conftest import DATABASES, make_settings, signed_in_browser
from tests.factories import create_baby
from tests.servers import serving

pytestmark = pytest.mark.skipif(
    DATABASES.server is None, reason="several instances share a database only on PostgreSQL"
)

NURSE = DEMO_USERS["nurse"]


async def test_two_instances_deliver_each_entry_once(settings, sources, fhir):
    settings.outbox_worker = False
    async with httpx.AsyncHTTPTransport() as real:
        faults = Faults(real)
        one = create_app(settings, sources=sources, transport=faults)
        two = create_app(settings.model_copy(update={"migrate_on_start": False}), sources=sources, transport=faults)
        async with one.router.lifespan_context(one), two.router.lifespan_context(two):
            first, second = one.state.checkpoints, two.state.checkpoints
            faults.plan = ["503"] * 4
            for _ in range(4):  # four checklists saved on instance one while the record is busy
                picture = await first.picture(create_baby(fhir["neonatal"]))
                response = answer_everything(
                    first.checklists.for_checkpoint("admission"),
                    first.start_checklist(picture, "admission", NURSE).response,
                )
                assert (await first.submit(picture, "admission", NURSE, response)).entry.state == "retrying"
            sent_before = faults.transactions
            later = first.clock() + timedelta(hours=1)

            async with first.client(first.write_back) as a, second.client(second.write_back) as b:
                await asyncio.gather(
                    deliver_due(first.sessions, a, worker="one", now=later),
                    deliver_due(second.sessions, b, worker="two", now=later),
                )

            async with second.sessions() as session:
                states = [e.state for e in (await session.exec(OutboxEntry.__table__.select())).all()]
    assert faults.transactions - sent_before == 4
    assert states == ["sent"] * 4


def test_a_form_drawn_by_one_instance_is_checked_by_the_other(sources, fhir, tmp_path):
    settings = make_settings(tmp_path)
    baby = create_baby(fhir["neonatal"])
    with serving(create_app(settings, sources=sources)) as one, serving(create_app(settings, sources=sources)) as two:
        with signed_in_browser(one, "nurse") as first:  # the sign-in is in the shared database, not in instance one
            form = first.get(f"/patients/{baby}/checklists/admission").text
            cookies = {COOKIE: first.cookies[COOKIE]}
        fields = dict(re.findall(r'name="(csrf|picture_id)" value="([^"]+)"', form))
        with httpx.Client(base_url=two, cookies=cookies, timeout=30) as second:
            answered = second.post(f"/patients/{baby}/checklists/admission", data=fields)

    # the other instance has not seen this form's picture: it asks the sources again and checks the answers
    assert answered.status_code == 422
    assert "There is a problem" in answered.text
