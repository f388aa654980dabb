"""Every page and API answer keeps its data on the page: its own scripts only, no framing, no referrer, HTTPS kept."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings


def test_every_page_and_api_answer_carries_the_security_headers(live):
    with live.browser("nurse") as browser:
        answers = [browser.get("/sign-in"), browser.get("/patients/9990101000"), browser.get("/nonsense")]
    with live.client("nurse") as api:
        answers.append(api.get("/api/patients/9990101000/picture"))
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"  # page URLs carry NHS numbers
        assert "strict-transport-security" not in answer.headers  # plain HTTP here: only the proxy knows


def test_behind_the_trusts_tls_proxy_browsers_are_told_to_keep_to_https(live):
    with httpx.Client(base_url=live.url, timeout=30) as browser:
        answer = browser.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert answer.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize("value", ["'none'; script-src *", "https://a\r\nSet-Cookie: x=1", "", "https://a,https://b"])
def test_frame_ancestors_is_one_directive_never_a_header_injection(tmp_path, value):
    with pytest.raises(ValidationError, match="NEOSAFE_FRAME_ANCESTORS"):
        Settings(secret_key="x" * 40, frame_ancestors=value)
    assert Settings(secret_key="x" * 40, frame_ancestors="https://epr.example.nhs.uk").frame_ancestors


def test_a_form_posted_from_another_site_is_refused_sign_in_and_sign_out_included(live):
    """Issue 11 #9: sign-in and sign-out accepted cross-site POSTs."""
    with httpx.Client(base_url=live.url, timeout=30) as browser:
        for elsewhere in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
            assert browser.post("/sign-in", data={"role": "nurse"}, headers=elsewhere).status_code == 403
            assert browser.post("/sign-out", headers=elsewhere).status_code == 403
        own = {"Origin": live.url}
        signed_in = browser.post("/sign-in", data={"role": "nurse"}, headers=own, follow_redirects=False)
        assert signed_in.status_code == 303
        assert browser.post("/sign-out", headers={"Referer": f"{live.url}/"}, follow_redirects=False).status_code == 303


def test_a_request_body_larger_than_the_limit_is_refused_before_it_is_read(live):
    """Issue 11 #10: a 50 MB body was parsed whole."""
    with live.client("nurse") as api:
        huge = b'{"resourceType": "QuestionnaireResponse", "x": "' + b"a" * 2_000_000 + b'"}'
        announced = api.post(
            "/api/patients/9990101000/assessments", content=huge, headers={"Content-Type": "application/json"}
        )
        chunked = api.post(
            "/api/patients/9990101000/assessments",
            content=(huge[i : i + 65536] for i in range(0, len(huge), 65536)),
            headers={"Content-Type": "application/json"},
        )
    for refused in (announced, chunked):
        assert refused.status_code == 413 and "larger than NeoSafe accepts" in refused.json()["detail"]
