"""The audit trail against moto's DynamoDB: shape, order, bounds, TTL, configuration errors."""

from __future__ import annotations

import json
import threading
import time

import pytest

from opsagent import audit
from opsagent.audit import AuditTrail, create_table, new_ulid
from opsagent.aws import client
from opsagent.context import CallContext
from opsagent.errors import ConfigurationError, InvalidInput, UpstreamUnavailable

TABLE = "opsagent-audit-test"


@pytest.fixture
def trail(aws):
    create_table(TABLE)
    return AuditTrail(TABLE)


@pytest.fixture
def ctx():
    return CallContext(
        incident_id="checkout-high-cpu@2026-11-20T14:05:40.989+0000",
        session_id="111122223333444",
        agent_id="AGENT12345",
        agent_alias="LIVEALIAS1",
        trigger="alarm",
    )


def test_record_roundtrip_has_every_contract_field(trail, ctx):
    rec = trail.record(
        ctx,
        "scaleDeployment",
        {"namespace": "shop", "deployment": "checkout", "replicas": 6},
        "applied",
        before={"replicas": 3},
        after={"replicas": 6},
        undo="scaleDeployment namespace=shop deployment=checkout replicas=3",
    )
    [stored] = trail.for_incident(ctx.incident_id)
    assert stored == rec
    assert stored.decision == "applied"
    assert stored.before == {"replicas": 3} and stored.after == {"replicas": 6}
    assert stored.parameters["replicas"] == 6
    assert (stored.session_id, stored.agent_id, stored.agent_alias, stored.trigger) == (
        "111122223333444",
        "AGENT12345",
        "LIVEALIAS1",
        "alarm",
    )
    assert stored.at.endswith("Z") and stored.at.startswith("20")
    # raw item: contract keys and TTL attribute
    item = client("dynamodb").get_item(
        TableName=TABLE, Key={"incident_id": {"S": ctx.incident_id}, "sk": {"S": rec.sk}}
    )["Item"]
    assert item["sk"]["S"] == f"{rec.at}#{rec.seq}"
    ttl = int(item["expires_at"]["N"])
    assert 399 * 86400 < ttl - time.time() <= 400 * 86400


def test_refusal_records_rule_and_detail(trail, ctx):
    trail.record(ctx, "scaleDeployment", {"replicas": 0}, "refused", rule="replica_floor", detail="min is 1")
    [rec] = trail.for_incident(ctx.incident_id)
    assert (rec.decision, rec.rule, rec.detail, rec.before, rec.after) == (
        "refused",
        "replica_floor",
        "min is 1",
        None,
        None,
    )


def test_for_incident_is_in_order_and_isolated(trail, ctx):
    other = ctx.model_copy(update={"incident_id": "other"})
    for i in range(25):
        trail.record(ctx, "scaleDeployment", {"i": i}, "dry_run")
        trail.record(other, "createTicket", {"i": i}, "recorded")
    records = trail.for_incident(ctx.incident_id)
    assert [r.parameters["i"] for r in records] == list(range(25))
    assert {r.operation for r in records} == {"scaleDeployment"}
    assert [r.sk for r in records] == sorted(r.sk for r in records)
    assert len(trail.for_incident(ctx.incident_id, limit=7)) == 7
    assert trail.for_incident("no-such-incident") == []


def test_pagination_follows_last_evaluated_key(trail, ctx, monkeypatch):
    for i in range(5):
        trail.record(ctx, "scaleDeployment", {"i": i}, "dry_run")
    real_query = trail.ddb.query
    pages = []

    def small_pages(**kwargs):
        kwargs["Limit"] = 2
        page = real_query(**kwargs)
        pages.append(len(page["Items"]))
        return page

    monkeypatch.setattr(trail.ddb, "query", small_pages)
    assert [r.parameters["i"] for r in trail.for_incident(ctx.incident_id)] == [0, 1, 2, 3, 4]
    assert len(pages) >= 3


def test_get_by_audit_id(trail, ctx):
    first = trail.record(ctx, "scaleDeployment", {}, "dry_run")
    trail.record(ctx, "scaleDeployment", {}, "applied")
    assert trail.get(ctx.incident_id, first.audit_id) == first
    assert trail.get(ctx.incident_id, "nope") is None


def test_hostile_and_huge_values_are_bounded(trail, ctx):
    huge = {
        "reason": "x" * 100_000,
        "nested": {"a": {"b": {"c": {"d": {"e": "deep"}}}}},
        "many": list(range(1000)),
        **{f"k{i}": i for i in range(100)},
    }
    rec = trail.record(ctx, "scaleDeployment", huge, "failed", detail="y" * 50_000, undo="z" * 5000)
    [stored] = trail.for_incident(ctx.incident_id)
    assert stored == rec
    assert len(json.dumps(stored.parameters)) <= audit.MAX_FIELD_BYTES + 200
    assert len(stored.detail) <= audit.MAX_TEXT and "chars total)" in stored.detail
    assert len(stored.undo) <= audit.MAX_TEXT


def test_bound_says_what_was_cut():
    out = audit.bound({"many": list(range(50)), "s": "q" * 2000, **{f"k{i}": i for i in range(60)}})
    assert out["many"][-1] == {"_omitted": 30}
    assert len(out["s"]) == audit.MAX_STRING_VALUE
    assert out["_omitted"] == 62 - audit.MAX_KEYS


def test_unknown_decision_rejected(trail, ctx):
    with pytest.raises(InvalidInput):
        trail.record(ctx, "scaleDeployment", {}, "yolo")
    with pytest.raises(InvalidInput):
        trail.record(ctx, "", {}, "applied")
    assert trail.for_incident(ctx.incident_id) == []


def test_missing_table_is_retryable_upstream_error(aws, ctx):
    with pytest.raises(UpstreamUnavailable) as err:
        AuditTrail("does-not-exist").record(ctx, "scaleDeployment", {}, "applied")
    assert err.value.retryable


def test_from_env(aws):
    trail = AuditTrail.from_env({"OPSAGENT_AUDIT_TABLE": TABLE, "OPSAGENT_AUDIT_TTL_DAYS": "30"})
    assert (trail.table_name, trail.ttl_days) == (TABLE, 30)
    assert AuditTrail.from_env({"OPSAGENT_AUDIT_TABLE": TABLE}).ttl_days == 400


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "OPSAGENT_AUDIT_TABLE"),
        ({"OPSAGENT_AUDIT_TABLE": "bad name!"}, "OPSAGENT_AUDIT_TABLE"),
        ({"OPSAGENT_AUDIT_TABLE": TABLE, "OPSAGENT_AUDIT_TTL_DAYS": "0"}, "OPSAGENT_AUDIT_TTL_DAYS"),
    ],
)
def test_from_env_errors_name_the_variable(env, names):
    with pytest.raises(ConfigurationError) as err:
        AuditTrail.from_env(env)
    assert names in err.value.message


def test_ulids_are_unique_and_increasing_across_threads():
    ids: list[str] = []
    lock = threading.Lock()

    def make():
        local = [new_ulid() for _ in range(500)]
        assert local == sorted(local)
        with lock:
            ids.extend(local)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 2000
    assert all(len(i) == 26 for i in ids)


def test_concurrent_writers_lose_nothing(trail, ctx):
    def write(n):
        for i in range(10):
            trail.record(ctx, "scaleDeployment", {"w": n, "i": i}, "dry_run")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = trail.for_incident(ctx.incident_id)
    assert len(records) == 40
    for n in range(4):
        assert [r.parameters["i"] for r in records if r.parameters["w"] == n] == list(range(10))


def test_a_record_never_overwrites_another(trail, ctx, monkeypatch):
    """Same instant, same sequence (a clock or ULID bug): the second write fails, the first stays."""
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    monkeypatch.setattr(audit, "_now", lambda: moment)
    monkeypatch.setattr(audit, "new_ulid", lambda: "01JD0000000000000000000000")
    first = trail.record(ctx, "scaleDeployment", {"n": 1}, "applied")
    with pytest.raises(UpstreamUnavailable):
        trail.record(ctx, "scaleDeployment", {"n": 2}, "refused")
    assert trail.for_incident(ctx.incident_id) == [first]


def test_many_medium_strings_still_fit_the_field_bound(trail, ctx):
    wide = {f"key{i}": '"\\' * 250 for i in range(40)}  # quotes and backslashes double when re-encoded
    rec = trail.record(ctx, "scaleDeployment", wide, "failed", before=wide, after=wide)
    [stored] = trail.for_incident(ctx.incident_id)
    assert stored == rec
    for field in (stored.parameters, stored.before, stored.after):
        assert field["_truncated"] is True and field["_original_bytes"] > audit.MAX_FIELD_BYTES
    item = client("dynamodb").get_item(
        TableName=TABLE, Key={"incident_id": {"S": ctx.incident_id}, "sk": {"S": rec.sk}}
    )["Item"]
    for name in ("parameters", "before", "after"):
        assert len(item[name]["S"].encode()) <= audit.MAX_FIELD_BYTES
