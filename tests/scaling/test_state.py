"""The state table's primitives against moto: idempotency records, rolling windows, budgets, claims."""

from __future__ import annotations

import threading

import pytest

from opsagent.errors import ConfigurationError, UpstreamUnavailable
from opsagent.state import StateStore, digest

from .conftest import STATE_TABLE


@pytest.fixture
def store(ddb, clock):
    return StateStore(STATE_TABLE, clock=clock)


def reserve(store, scope="scale#shop/checkout", incident="inc-1", window_limit=3, budget_limit=10):
    return store.reserve(
        window_scope=scope,
        window_limit=window_limit,
        window_seconds=3600,
        incident_id=incident,
        budget_limit=budget_limit,
        entry={"replicas": "4"},
    )


def items(ddb):
    return sorted((i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(TableName=STATE_TABLE)["Items"])


# --- claims ----------------------------------------------------------------------------------------


def test_claim_is_first_caller_only_until_expiry(store, clock):
    assert store.claim("alarm#arn:x", "ALARM@t1", ttl_seconds=600, attributes={"by": "me"})
    assert not store.claim("alarm#arn:x", "ALARM@t1", ttl_seconds=600)
    assert store.claim("alarm#arn:x", "ALARM@t2", ttl_seconds=600)
    clock.advance(601)
    assert store.claim("alarm#arn:x", "ALARM@t1", ttl_seconds=600)  # expired but not yet deleted by TTL


# --- idempotency -----------------------------------------------------------------------------------


def test_idempotency_lifecycle(store, clock):
    key = digest("inc", "shop", "checkout", 6, False)
    first = store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600)
    assert first.state == "acquired" and first.token
    assert store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600).state == "in_progress"
    assert store.idem_complete("s", key, first.token, '{"ok": 1}', ttl_seconds=3600)
    done = store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600)
    assert (done.state, done.response, done.token) == ("completed", '{"ok": 1}', first.token)
    # take-over only with the token of the record judged stale
    assert store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600, take_over_token="nope").state == (
        "completed"
    )
    again = store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600, take_over_token=first.token)
    assert again.state == "acquired" and again.token != first.token
    store.idem_abandon("s", key, again.token)
    assert store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600).state == "acquired"


def test_expired_lease_is_taken_over_and_late_completion_is_rejected(store, clock):
    key = digest("k")
    slow = store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600)
    clock.advance(61)
    fresh = store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600)
    assert fresh.state == "acquired"
    assert not store.idem_complete("s", key, slow.token, "{}", ttl_seconds=3600)
    store.idem_abandon("s", key, slow.token)  # not ours any more: must not delete the new holder's record
    assert store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600).state == "in_progress"


def test_concurrent_idem_begin_has_one_winner(store):
    key = digest("race")
    barrier = threading.Barrier(8)
    states: list[str] = []

    def go():
        barrier.wait()
        states.append(store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600).state)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(states) == ["acquired"] + ["in_progress"] * 7


def test_digest_is_order_sensitive_and_stable():
    assert digest("a", 1) == digest("a", "1")
    assert digest("a", "b") != digest("b", "a")
    assert digest("inc|x", "y") != digest("inc", "x|y")


# --- windows and budgets ---------------------------------------------------------------------------


def test_rolling_window_limit_and_expiry(store, clock):
    for _ in range(3):
        assert reserve(store).reservation is not None
        clock.advance(600)
    refused = reserve(store)
    assert refused.refused == "window" and refused.reservation is None
    assert refused.window_used == 3
    assert refused.window_next_at == pytest.approx(1_800_000_000 + 3600)
    before = items(store.ddb)
    usage = store.usage("scale#shop/checkout", 3600, "inc-1")
    assert (usage.window_used, usage.budget_used) == (3, 3)
    clock.advance(1799)  # t=+3599: the first operation is still inside the window
    assert reserve(store).refused == "window"
    clock.advance(2)  # t=+3601: it left (rolling window, not fixed hours)
    assert reserve(store).reservation is not None
    assert items(store.ddb) == before  # same items, no stray records
    assert store.usage("scale#shop/checkout", 3600, "inc-1").window_used == 3


def test_budget_is_per_incident_across_deployments(store):
    for i in range(4):
        assert reserve(store, scope=f"scale#shop/d{i}", budget_limit=4).reservation is not None
    refused = reserve(store, scope="scale#shop/d9", budget_limit=4)
    assert refused.refused == "budget" and refused.budget_used == 4
    # nothing consumed by the refusal: the window of d9 is untouched
    assert store.usage("scale#shop/d9", 3600, "inc-1").window_used == 0
    # another incident has its own budget
    assert reserve(store, scope="scale#shop/d9", incident="inc-2", budget_limit=4).reservation is not None


def test_release_gives_back_both_and_bumps_version(store, ddb):
    snap = reserve(store)
    res = snap.reservation
    version = ddb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": res.window_pk}, "sk": {"S": "window"}})[
        "Item"
    ]["version"]["N"]
    store.release(res)
    usage = store.usage("scale#shop/checkout", 3600, "inc-1")
    assert (usage.window_used, usage.budget_used) == (0, 0)
    item = ddb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": res.window_pk}, "sk": {"S": "window"}})[
        "Item"
    ]
    assert int(item["version"]["N"]) == int(version) + 1
    store.release(res)  # twice is harmless


def test_concurrent_reservations_respect_the_window(store):
    barrier = threading.Barrier(10)
    results = []

    def go():
        barrier.wait()
        results.append(reserve(store, window_limit=3))

    threads = [threading.Thread(target=go) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.reservation is not None for r in results) == 3
    assert {r.refused for r in results if r.reservation is None} == {"window"}
    assert store.usage("scale#shop/checkout", 3600, "inc-1").window_used == 3


def test_concurrent_reservations_respect_the_budget(store):
    barrier = threading.Barrier(10)
    results = []

    def go(i):
        barrier.wait()
        results.append(reserve(store, scope=f"scale#shop/d{i}", budget_limit=4))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.reservation is not None for r in results) == 4
    assert store.usage("scale#x", 3600, "inc-1").budget_used == 4


def test_errors(aws, monkeypatch):
    with pytest.raises(UpstreamUnavailable):
        StateStore("missing-table").claim("a", "b", ttl_seconds=1)
    with pytest.raises(ConfigurationError) as err:
        StateStore.from_env({})
    assert "OPSAGENT_STATE_TABLE" in err.value.message


# --- clocks and TTLs -------------------------------------------------------------------------------


def test_a_fast_clock_cannot_erase_the_window(store, clock):
    """A writer whose clock runs 2 h ahead sees every entry as expired. It must not prune them from
    the map: the writers with a correct clock would lose the Deployment's cooldown history."""
    for _ in range(3):
        assert reserve(store).reservation is not None
        clock.advance(60)
    fast = StateStore(STATE_TABLE, clock=lambda: clock.now + 7200)
    reserve(fast)  # its own view cannot be corrected without a trusted clock
    assert reserve(store).refused == "window"
    assert store.usage("scale#shop/checkout", 3600, "inc-1").window_used >= 3


def test_a_slow_clock_counts_recent_entries(store, clock):
    for _ in range(3):
        assert reserve(store).reservation is not None
    slow = StateStore(STATE_TABLE, clock=lambda: clock.now - 7200)
    assert reserve(slow).refused == "window"


def test_counters_outlive_what_they_count(store, ddb, clock):
    """DynamoDB TTL deletes an item after expires_at: a window must live at least as long as its
    newest entry counts, a budget as long as an incident can run (30 days), an idempotency record
    at least as long as its lease."""

    def expires(pk, sk):
        item = ddb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        return int(item["expires_at"]["N"])

    snap = reserve(store)
    res = snap.reservation
    assert expires(res.window_pk, "window") >= clock.now + 3600
    assert expires(res.budget_pk, "mutations") >= clock.now + 30 * 86400
    clock.advance(20 * 86400)
    reserve(store, scope="scale#shop/cart")  # the budget's life is extended by every use
    assert expires(res.budget_pk, "mutations") >= clock.now + 30 * 86400
    key = digest("ttl")
    store.idem_begin("s", key, lease_seconds=60, ttl_seconds=3600)
    assert expires(store.idem_pk("s", key), "idem") >= clock.now + 3600
