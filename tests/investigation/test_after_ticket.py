"""Once the ticket exists nothing may fail the trigger event (issue 11 item 3): Lambda would retry
it, investigate a second time (in confirm mode: act a second time) and post duplicate comments."""

from __future__ import annotations

import pytest

from opsagent.audit import AuditTrail
from opsagent.errors import UpstreamUnavailable
from opsagent.investigation.dedup import AlarmStateStore
from opsagent.investigation.pipeline import Dependencies, handle_alarm_event

from .conftest import AUDIT_TABLE, STATE_TABLE, FakeDispatch, FakeTickets


class FailingStore(AlarmStateStore):
    """The state table fails ``failures`` times on the named after-ticket writes."""

    def __init__(self, *fail_on: str, failures: int = 99):
        super().__init__(STATE_TABLE)
        self.fail_on, self.failures, self.calls = set(fail_on), failures, []

    def _maybe_fail(self, name):
        self.calls.append(name)
        if name in self.fail_on and self.failures > 0:
            self.failures -= 1
            raise UpstreamUnavailable(
                "state table update_item failed: ClientError", dependency="dynamodb:state"
            )

    def attach_ticket(self, facts, **kw):
        self._maybe_fail("attach_ticket")
        return super().attach_ticket(facts, **kw)

    def finish_delivery(self, facts, **kw):
        self._maybe_fail("finish_delivery")
        return super().finish_delivery(facts, **kw)


def deps(store, tickets):
    return Dependencies(
        store=store,
        tickets=tickets,
        dispatch=FakeDispatch(),
        audit=AuditTrail(AUDIT_TABLE),
        runbooks_loader=lambda: [],
    )


@pytest.mark.parametrize(
    "fail_on",
    [("attach_ticket",), ("finish_delivery",), ("attach_ticket", "finish_delivery")],
)
def test_a_state_table_failure_after_the_ticket_does_not_fail_the_event(
    tables, alarm, settings_factory, fail_on
):
    tickets = FakeTickets()
    settings = settings_factory(flap_window_minutes=30)
    out = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps(FailingStore(*fail_on), tickets)
    )
    assert out.status == "investigated" and out.ticket_id == "OPS-1"
    assert "state" in out.message  # says what could not be recorded
    assert len(tickets.created) == 1


def test_a_transient_failure_finishing_the_delivery_is_retried_so_a_redelivery_is_a_duplicate(
    tables, alarm, settings_factory
):
    tickets = FakeTickets()
    settings = settings_factory()
    store = FailingStore("finish_delivery", failures=1)
    out = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps(store, tickets))
    assert out.status == "investigated"
    again = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps(AlarmStateStore(STATE_TABLE), tickets)
    )
    assert again.status == "duplicate" and len(tickets.created) == 1


class AmbiguousTickets(FakeTickets):
    """A remote backend whose create answered late (or 503 after a gateway forwarded it)."""

    def create(self, report, ctx):
        from opsagent.tickets.http import AmbiguousWrite

        self.created.append((report, ctx))
        raise AmbiguousWrite("GitHub did not answer create issue in time", dependency="github")


def test_an_ambiguous_ticket_create_marks_the_delivery_done_and_is_never_resent(
    tables, alarm, settings_factory
):
    """Issue 11 item 4: three issues for one alarm were seen with GitHub. The outcome is unknown:
    the event succeeds (no Lambda retry re-POSTs), the delivery is done, the audit says how to
    reconcile (search by fingerprint), and a redelivery files nothing."""
    tickets = AmbiguousTickets()
    settings = settings_factory()
    out = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps(AlarmStateStore(STATE_TABLE), tickets)
    )
    assert out.status == "investigated" and out.ticket_id is None
    assert "outcome unknown" in out.message and "fingerprint" in out.message
    again = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps(AlarmStateStore(STATE_TABLE), tickets)
    )
    assert again.status == "duplicate"
    assert len(tickets.created) == 1
    [rec] = [
        r for r in AuditTrail(AUDIT_TABLE).for_incident(out.incident_id) if r.rule == "ticket_outcome_unknown"
    ]
    assert "fingerprint" in rec.detail
