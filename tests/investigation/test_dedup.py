"""De-duplication and flap coalescing on the state table (moto), including races."""

from __future__ import annotations

from datetime import timedelta

from opsagent.investigation.alarm import extract_facts
from opsagent.investigation.dedup import AlarmStateStore

from .conftest import STATE_TABLE


def _facts(alarm, minutes_later: float = 0):
    event = alarm("single-metric")
    facts = extract_facts(event)
    if minutes_later:
        t = facts.state_time + timedelta(minutes=minutes_later)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"
        event["detail"]["state"]["timestamp"] = stamp
        facts = extract_facts(event)
    return facts


def test_second_claim_of_the_same_transition_is_a_duplicate(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    facts = _facts(alarm)
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=900).outcome == "claimed"
    dup = store.claim_delivery(facts, ttl_hours=1, lease_seconds=900)
    assert dup.outcome == "duplicate" and dup.status == "started"
    store.finish_delivery(facts, incident_id=facts.incident_id, ticket_id="OPS-1", result="investigated")
    dup = store.claim_delivery(facts, ttl_hours=1, lease_seconds=900)
    assert (dup.status, dup.ticket_id, dup.incident_id) == ("done", "OPS-1", facts.incident_id)


def test_a_released_claim_can_be_retried(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    facts = _facts(alarm)
    claim = store.claim_delivery(facts, ttl_hours=1, lease_seconds=900)
    store.release_delivery(facts, claim.token)
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=900).outcome == "claimed"


def test_a_late_release_never_frees_the_claim_that_took_ours_over(tables, alarm):
    now = [1_000_000.0]
    store = AlarmStateStore(STATE_TABLE, clock=lambda: now[0])
    facts = _facts(alarm)
    mine = store.claim_delivery(facts, ttl_hours=1, lease_seconds=60, owner="req-1")
    now[0] += 61
    theirs = store.claim_delivery(facts, ttl_hours=1, lease_seconds=60, owner="req-2")
    assert theirs.outcome == "taken_over"
    store.release_delivery(facts, mine.token)  # the first invocation fails after all
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=60, owner="req-3").status == "started"


def test_the_same_request_retried_by_lambda_takes_its_claim_over_at_once(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    facts = _facts(alarm)
    store.claim_delivery(facts, ttl_hours=1, lease_seconds=900, owner="req-1")
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=900, owner="req-2").outcome == "duplicate"
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=900, owner="req-1").outcome == "taken_over"
    store.finish_delivery(facts, incident_id=facts.incident_id, ticket_id="OPS-1", result="investigated")
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=900, owner="req-1").outcome == "duplicate"


def test_an_expired_lease_can_be_taken_over_but_a_finished_one_cannot(tables, alarm):
    now = [1_000_000.0]
    store = AlarmStateStore(STATE_TABLE, clock=lambda: now[0])
    facts = _facts(alarm)
    store.claim_delivery(facts, ttl_hours=1, lease_seconds=60)
    now[0] += 30
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=60).outcome == "duplicate"
    now[0] += 31
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=60).outcome == "taken_over"
    store.finish_delivery(facts, incident_id=facts.incident_id, ticket_id=None, result="investigated")
    now[0] += 10_000
    assert store.claim_delivery(facts, ttl_hours=1, lease_seconds=60).outcome == "duplicate"


def test_flapping_within_the_window_joins_the_open_incident(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    first, again, later = _facts(alarm), _facts(alarm, 20), _facts(alarm, 45)
    lead = store.open_or_join(first, window_minutes=30, ttl_hours=1)
    assert lead.role == "lead" and lead.incident_id == first.incident_id
    store.attach_ticket(first, incident_id=first.incident_id, ticket_id="OPS-1")
    join = store.open_or_join(again, window_minutes=30, ttl_hours=1)
    assert (join.role, join.incident_id, join.ticket_id, join.alarm_count) == (
        "join",
        first.incident_id,
        "OPS-1",
        2,
    )
    # sliding window: 45 min after the first, 25 after the last ALARM -> still the same incident
    assert store.open_or_join(later, window_minutes=30, ttl_hours=1).role == "join"
    # 31 minutes after the last ALARM -> a new incident
    assert store.open_or_join(_facts(alarm, 76), window_minutes=30, ttl_hours=1).role == "lead"


def test_window_zero_disables_coalescing(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    assert store.open_or_join(_facts(alarm), window_minutes=0, ttl_hours=1).role == "lead"
    assert store.open_or_join(_facts(alarm, 1), window_minutes=0, ttl_hours=1).role == "lead"


def test_notes_left_before_the_ticket_exists_are_handed_to_the_lead(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    first = _facts(alarm)
    store.open_or_join(first, window_minutes=30, ttl_hours=1)
    join = store.open_or_join(_facts(alarm, 5), window_minutes=30, ttl_hours=1)
    assert join.role == "join" and join.ticket_id is None
    store.leave_note(first, incident_id=join.incident_id, note="fired again at 14:10")
    assert store.attach_ticket(first, incident_id=first.incident_id, ticket_id="OPS-9") == [
        "fired again at 14:10"
    ]
    assert store.attach_ticket(first, incident_id=first.incident_id, ticket_id="OPS-9") == []


def test_closed_ticket_lets_a_new_incident_replace_the_old_one(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    first, second = _facts(alarm), _facts(alarm, 10)
    store.open_or_join(first, window_minutes=30, ttl_hours=1)
    assert store.replace_incident(second, stale_incident_id=first.incident_id, ttl_hours=1)
    # a concurrent replacer that saw the same stale incident loses
    assert not store.replace_incident(_facts(alarm, 11), stale_incident_id=first.incident_id, ttl_hours=1)
    assert (
        store.open_or_join(_facts(alarm, 12), window_minutes=30, ttl_hours=1).incident_id
        == second.incident_id
    )


def test_a_retry_of_the_transition_that_opened_the_incident_leads_it_again(tables, alarm):
    store = AlarmStateStore(STATE_TABLE)
    first = _facts(alarm)
    assert store.open_or_join(first, window_minutes=30, ttl_hours=1).role == "lead"
    # the lead died before filing its ticket (no clean-up ran); its retry must not join itself
    again = store.open_or_join(first, window_minutes=30, ttl_hours=1)
    assert (again.role, again.incident_id) == ("lead", first.incident_id)
    # while another transition in the window still joins it
    assert store.open_or_join(_facts(alarm, 5), window_minutes=30, ttl_hours=1).role == "join"
