"""The RCA through the real tickets domain API (DynamoDB backend on moto): whatever the alarm and the
evidence, the ticket is accepted, stays within the 16 KB description limit, and is found again."""

from __future__ import annotations

import pytest

from opsagent.audit import AuditTrail
from opsagent.investigation.pipeline import Dependencies, DomainTickets, handle_alarm_event
from opsagent.tickets.models import MAX_TEXT_BYTES

from .conftest import AUDIT_TABLE, FakeDispatch, envelope, retime

TICKETS_TABLE = "opsagent-tickets-contract"


@pytest.fixture
def real_tickets(tables, monkeypatch):
    from opsagent.tickets.dynamodb import create_table
    from opsagent.tickets.service import reset_backend

    create_table(TICKETS_TABLE)
    monkeypatch.setenv("OPSAGENT_TICKETS_TABLE", TICKETS_TABLE)
    monkeypatch.delenv("OPSAGENT_TICKETS", raising=False)
    reset_backend()
    yield DomainTickets()
    reset_backend()


def _stored(ticket_id: str) -> dict:
    from opsagent.aws import client

    item = client("dynamodb").get_item(TableName=TICKETS_TABLE, Key={"ticket_id": {"S": ticket_id}})["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def _deps(tickets, dispatch=None):
    return Dependencies(
        tickets=tickets,
        audit=AuditTrail(AUDIT_TABLE),
        dispatch=dispatch or FakeDispatch(),
        runbooks_loader=lambda: [],
    )


def test_a_255_character_alarm_name_still_gets_its_ticket(real_tickets, alarm, settings_factory):
    name = "checkout-latency-" + "x" * 238
    assert len(name) == 255  # CloudWatch's maximum
    event = alarm("single-metric")
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    out = handle_alarm_event(event, settings=settings_factory(), deps=_deps(real_tickets))
    assert out.status == "investigated" and out.ticket_id
    ticket = _stored(out.ticket_id)
    assert len(ticket["fingerprint"]) <= 256 and len(ticket["title"]) <= 200
    # the same alarm is recognised again: a later investigation joins the open ticket
    facts_fp = out.report.alarm.fingerprint
    assert real_tickets.is_open(out.ticket_id, facts_fp, out.report and _ctx(out)) is True


def _ctx(out):
    from opsagent.context import CallContext

    return CallContext(incident_id=out.incident_id, session_id="s", trigger="alarm")


def raw_dispatch(text: str):
    """Every tool answers ``text`` verbatim: UTF-8, not \\u-escaped (as a tool's body may be)."""

    def dispatch(group, event, context):
        return envelope(event, 200, None) | {
            "response": {
                **envelope(event, 200, None)["response"],
                "responseBody": {"application/json": {"body": text}},
            }
        }

    return dispatch


@pytest.mark.parametrize("char", ["é", "漢", "🔥"])
def test_the_stored_description_stays_within_16_kb_whatever_the_evidence(
    real_tickets, alarm, settings_factory, char
):
    text = '{"pods_total": 1, "note": "' + char * 3000 + '"}'  # 6-12 KB of UTF-8 per tool call
    event = alarm("single-metric")
    event["detail"]["configuration"]["description"] = char * 1000
    out = handle_alarm_event(
        event,
        settings=settings_factory(step_evidence_chars=4000),
        deps=_deps(real_tickets, raw_dispatch(text)),
    )
    description = _stored(out.ticket_id)["description"]
    assert len(description.encode()) <= MAX_TEXT_BYTES
    assert "Filed by OpsAgent" in description  # the service's footer made it in whole
    assert "### Probable cause" in description and "evidence truncated" in description


def test_the_budget_leaves_room_for_the_footer_the_tickets_service_appends(real_tickets):
    from opsagent.context import CallContext
    from opsagent.investigation.pipeline import ticket_budget
    from opsagent.tickets import service
    from opsagent.tickets.models import TicketRequest

    ctx = CallContext(
        incident_id="é" * 255 + "@2026-11-20T14:05:40.989+0000", session_id="s", trigger="alarm"
    )
    fingerprint, name = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + "x" * 208, "s" * 63
    budget = ticket_budget(ctx, name, fingerprint)
    request = TicketRequest(
        title="t", description="d" * budget, severity="sev3", service=name, fingerprint=fingerprint
    )
    result = service.create_ticket(ctx, request)
    stored = _stored(result.id)["description"]
    assert stored.startswith("d" * budget) and len(stored.encode()) <= MAX_TEXT_BYTES


def test_a_refire_after_the_ticket_was_closed_opens_a_new_investigation(
    real_tickets, alarm, settings_factory
):
    from opsagent.tickets.service import get_backend

    settings = settings_factory(flap_window_minutes=30)
    first = handle_alarm_event(alarm("single-metric"), settings=settings, deps=_deps(real_tickets))
    again = handle_alarm_event(retime(alarm("single-metric"), 3), settings=settings, deps=_deps(real_tickets))
    assert again.status == "coalesced" and again.ticket_id == first.ticket_id  # open: joins it
    get_backend().close(first.ticket_id)  # a human resolved it
    later = handle_alarm_event(retime(alarm("single-metric"), 6), settings=settings, deps=_deps(real_tickets))
    assert later.status == "investigated" and later.ticket_id != first.ticket_id
