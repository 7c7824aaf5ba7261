"""Opt-in smoke test against a REAL ticket backend (never runs by default).

    OPSAGENT_AWS_TESTS=1 OPSAGENT_TICKETS_LIVE=1 \\
    OPSAGENT_TICKETS='{"backend": "jira", "base_url": "https://acme.atlassian.net", "project_key": "OPS",
                       "secret_arn": "arn:aws:secretsmanager:..."}' \\
    AWS_PROFILE=... .venv/bin/pytest tests/tickets/test_live.py -m aws

Creates one sev4 ticket with a unique fingerprint, files it again (expects a comment on the same
ticket), searches for it and comments on it. Close the ticket afterwards by hand.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from opsagent.context import CallContext

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(
        not (os.environ.get("OPSAGENT_AWS_TESTS") == "1" and os.environ.get("OPSAGENT_TICKETS_LIVE") == "1"),
        reason="live ticket backend test: set OPSAGENT_AWS_TESTS=1 and OPSAGENT_TICKETS_LIVE=1",
    ),
]


@pytest.fixture(autouse=True)
def _isolated():  # override the offline fixture: keep the real configuration and really sleep
    yield


@pytest.fixture
def _no_sleep():
    return None


def test_live_create_dedupe_search_comment():
    from opsagent.tickets import service

    ctx = CallContext(incident_id=f"live-test-{uuid.uuid4().hex[:8]}", session_id="live-test", trigger="test")
    fingerprint = f"opsagent-live-{uuid.uuid4().hex[:12]}"
    request = {
        "title": "OpsAgent live smoke test (safe to close)",
        "description": "Created by tests/tickets/test_live.py to check the ticket backend wiring.",
        "severity": "sev4",
        "service": "opsagent-selftest",
        "fingerprint": fingerprint,
    }
    first = service.create_ticket(ctx, request)
    assert first.id and first.status == "open" and not first.deduplicated
    found = None
    for _ in range(10):  # remote searches are eventually consistent
        found = service.search(ctx, fingerprint=fingerprint)
        if found.count:
            break
        time.sleep(3)
    assert found is not None and [t.id for t in found.tickets] == [first.id]
    second = service.create_ticket(ctx, request)
    assert second.deduplicated and second.id == first.id
    assert service.add_comment(ctx, first.id, "live smoke test comment").ticket_id == first.id
