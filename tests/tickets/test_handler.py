"""Real-format Bedrock events through opsagent.handlers.tickets.lambda_handler (DynamoDB backend
under moto): the envelope, the three operations, and bad / hostile input."""

from __future__ import annotations

import json

import pytest

from opsagent.audit import AuditTrail
from opsagent.aws import client
from opsagent.handlers.tickets import lambda_handler
from support import bedrock_event, load_event, response_body

from .conftest import AUDIT_TABLE, TICKETS_TABLE

INCIDENT = "checkout-high-cpu@2026-11-20T14:05:40.989+0000"
SESSION = {"incident_id": INCIDENT, "trigger": "alarm"}


def body(**overrides) -> dict[str, str]:
    data = {
        "title": "checkout p99 latency above 2s",
        "description": "p99 2.4s since 13:55; 3/3 pods CPU-throttled; HPA pinned at max.",
        "severity": "sev2",
        "service": "checkout",
        "fingerprint": "checkout-high-cpu",
    }
    data.update(overrides)
    return data


def call(event, lambda_context) -> tuple[int, dict]:
    result = lambda_handler(event, lambda_context)
    resp = result["response"]
    assert (resp["actionGroup"], resp["apiPath"], resp["httpMethod"]) == (
        event["actionGroup"],
        event["apiPath"],
        event["httpMethod"],
    )
    assert len(resp["responseBody"]["application/json"]["body"].encode()) <= 8 * 1024
    return response_body(result)


def create(lambda_context, **overrides) -> tuple[int, dict]:
    event = bedrock_event("tickets", "/tickets", "POST", body=body(**overrides), session_attributes=SESSION)
    return call(event, lambda_context)


def stored() -> list[dict]:
    items = client("dynamodb").scan(TableName=TICKETS_TABLE)["Items"]
    return [i for i in items if i["kind"]["S"] == "ticket"]


def test_create_then_duplicate_then_search_then_comment(tickets_table, lambda_context):
    status, first = create(lambda_context)
    assert status == 200
    assert set(first) == {"id", "url", "status", "deduplicated", "backend", "message"}
    assert first["deduplicated"] is False and first["status"] == "open" and first["id"].startswith("OPS-")

    status, again = create(lambda_context, title="checkout still slow")
    assert status == 200 and again["deduplicated"] is True and again["id"] == first["id"]

    search = bedrock_event(
        "tickets",
        "/tickets",
        "GET",
        parameters={"service": "checkout", "include_closed": "false", "limit": "5"},
        session_attributes=SESSION,
    )
    status, found = call(search, lambda_context)
    assert status == 200 and found["count"] == 1 and found["more_available"] is False
    assert found["tickets"][0]["id"] == first["id"] and found["tickets"][0]["status"] == "open"

    comment = bedrock_event(
        "tickets",
        "/tickets/{ticket_id}/comments",
        "POST",
        parameters={"ticket_id": first["id"]},
        body={"comment": "Scaled checkout 3 -> 6 replicas; p99 back to 280 ms."},
        session_attributes=SESSION,
    )
    status, commented = call(comment, lambda_context)
    assert status == 200 and commented["ticket_id"] == first["id"] and commented["status"] == "open"

    trail = AuditTrail(AUDIT_TABLE).for_incident(INCIDENT)
    assert [(r.operation, r.decision) for r in trail] == [
        ("createTicket", "applied"),
        ("createTicket", "deduplicated"),
        ("searchTickets", "recorded"),
        ("addTicketComment", "applied"),
    ]
    assert {(r.session_id, r.agent_id, r.agent_alias, r.trigger) for r in trail} == {
        ("111122223333444", "AGENT12345", "TSTALIASID", "alarm")
    }


def test_the_vendored_post_sample_shape_works_for_tickets(tickets_table, lambda_context):
    event = load_event("bedrock-agent-post")
    event.update(actionGroup="tickets", apiPath="/tickets", httpMethod="POST", parameters=[])
    event["requestBody"]["content"]["application/json"]["properties"] = [
        {"name": k, "type": "string", "value": v} for k, v in body(fingerprint="").items()
    ]
    status, created = call(event, lambda_context)
    assert status == 200 and created["deduplicated"] is False
    assert AuditTrail(AUDIT_TABLE).for_incident(INCIDENT)[0].agent_alias == "LIVEALIAS1"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"title": "x" * 10_000}, "title is 10000 characters; the limit is 200"),
        ({"description": "y" * 20_000}, "the limit is 16384 bytes"),
        ({"severity": "critical"}, "sev1, sev2, sev3, sev4"),
        ({"severity": "sev9"}, "sev1, sev2, sev3, sev4"),
        ({"service": 'checkout"; DROP TABLE tickets; --'}, "service must be 1-63 characters"),
        ({"service": "../../etc/passwd"}, "service must be"),
        ({"title": "\x00\x1b\x07\u202e\u2066 \t"}, "title is empty"),
        ({"fingerprint": "f" * 300}, "the limit is 256"),
    ],
)
def test_bad_input_is_a_400_that_names_the_limit(tickets_table, lambda_context, overrides, expected):
    status, error = create(lambda_context, **overrides)
    assert status == 400, error
    assert error["error"] == "invalid_input" and expected in error["message"]
    assert "x" * 300 not in json.dumps(error)  # never echoes the huge input back
    assert stored() == []


def test_missing_required_field_is_a_400_with_problems(tickets_table, lambda_context):
    event = bedrock_event("tickets", "/tickets", "POST", body={"title": "t", "severity": "sev3"})
    status, error = call(event, lambda_context)
    assert status == 400 and {p["field"] for p in error["problems"]} >= {"description", "service"}


def test_control_characters_and_bidi_are_stripped_and_injection_text_stored_as_data(
    tickets_table, lambda_context
):
    status, created = create(
        lambda_context,
        title="evil\x00 title\x1b[2J \u202ereversed\u202c {{7*7}} <script>alert(1)</script>",
        description="line1\r\nline2\x07\x08\n'; DROP TABLE tickets; -- ${jndi:ldap://x/a}",
        severity=" SEV1 ",
        service="Checkout",
    )
    assert status == 200
    [item] = stored()
    title = item["title"]["S"]
    assert title == "evil title [2J reversed {{7*7}} <script>alert(1)</script>"
    desc = item["description"]["S"]
    assert desc.startswith("line1\nline2\n'; DROP TABLE tickets; -- ${jndi:ldap://x/a}")
    assert not any(ord(c) < 32 and c not in "\n\t" for c in desc)
    assert item["severity"]["S"] == "sev1" and item["service"]["S"] == "checkout"


def test_bad_ticket_id_and_oversized_comment(tickets_table, lambda_context):
    for ticket_id, comment, expected in [
        ("../../etc/passwd", "hi", "ticket_id must be"),
        ("OPS-AAAAAA#C000001", "hi", "ticket_id must be"),
        ("OPS-AAAAAA", "z" * 17_000, "the limit is 16384 bytes"),
        ("OPS-AAAAAA", " \x00 ", "comment is empty"),
    ]:
        event = bedrock_event(
            "tickets",
            "/tickets/{ticket_id}/comments",
            "POST",
            parameters={"ticket_id": ticket_id},
            body={"comment": comment},
        )
        status, error = call(event, lambda_context)
        assert status == 400 and expected in error["message"], (ticket_id, error)


def test_unknown_ticket_is_404_and_search_without_filters_is_400(tickets_table, lambda_context):
    event = bedrock_event(
        "tickets",
        "/tickets/{ticket_id}/comments",
        "POST",
        parameters={"ticket_id": "OPS-ZZZZZZ"},
        body={"comment": "x"},
    )
    status, error = call(event, lambda_context)
    assert status == 404 and error["error"] == "not_found"
    status, error = call(bedrock_event("tickets", "/tickets", "GET", parameters={}), lambda_context)
    assert status == 400 and "service and/or a fingerprint" in error["message"]
    status, error = call(
        bedrock_event("tickets", "/tickets", "GET", parameters={"limit": "lots"}), lambda_context
    )
    assert status == 400 and error["problems"][0]["field"] == "limit"


def test_misconfiguration_is_a_readable_500(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OPSAGENT_TICKETS", '{"backend": "jira", "base_url": "http://jira.example.com"}')
    status, error = create(lambda_context)
    assert status == 500 and error["error"] == "configuration_error"
    assert "OPSAGENT_TICKETS" in error["message"] and "https" in error["message"]


def test_handler_module_imports_no_backend_and_no_boto3():
    """Cold start: backends (and boto3, which they reach through opsagent.aws.client) load on first use."""
    import subprocess
    import sys

    lazy = ["boto3", "opsagent.tickets.dynamodb", "opsagent.tickets.jira", "opsagent.tickets.servicenow"]
    lazy += ["opsagent.tickets.github", "opsagent.tickets.remote", "opsagent.tickets.config"]
    code = f"import sys, opsagent.handlers.tickets; print([m for m in {lazy!r} if m in sys.modules])"
    env = {"PYTHONPATH": "lambdas", "POWERTOOLS_TRACE_DISABLED": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("char", ["x", "é", "\U0001f525"])
def test_the_largest_search_result_stays_within_the_body_budget(
    tickets_table, lambda_context, monkeypatch, char
):
    """25 tickets (the maximum limit) with the longest titles and a long ticket URL: still <= 8 KB."""
    from opsagent.tickets.dynamodb import DynamoDBBackend
    from opsagent.tickets.models import TicketRequest

    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps({"url_template": "https://incidents.ops.internal.example.com/tickets/view/{id}"}),
    )
    backend = DynamoDBBackend(TICKETS_TABLE)
    for _ in range(30):
        backend.create(
            TicketRequest(
                title=char * 200, description="d", severity="sev1", service="s" * 63, fingerprint=None
            )
        )
    event = bedrock_event(
        "tickets",
        "/tickets",
        "GET",
        parameters={"service": "s" * 63, "limit": "25"},
        session_attributes=SESSION,
    )
    status, found = call(event, lambda_context)  # call() asserts the 8 KB bound
    assert status == 200 and found["more_available"] is True
    assert found["count"] == len(found["tickets"]) >= 5 and all(t["title"] for t in found["tickets"])
    assert f"showing the newest {found['count']}" in found["note"]
