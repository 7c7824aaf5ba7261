"""The DynamoDB backend under moto: ids, de-duplication, the fingerprint lock under concurrency,
closing, searches through the GSIs, and the domain API on top of it (with the audit trail)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from opsagent.audit import AuditTrail
from opsagent.aws import client
from opsagent.errors import ConfigurationError, InvalidInput, NotFound
from opsagent.tickets import service
from opsagent.tickets.dynamodb import DynamoDBBackend
from opsagent.tickets.models import TicketRequest

from .conftest import AUDIT_TABLE, TICKETS_TABLE


def req(**overrides) -> TicketRequest:
    data = {
        "title": "checkout p99 latency above 2s",
        "description": "p99 2.4s since 13:55; 3/3 pods at 95% CPU; HPA at max (3).",
        "severity": "sev2",
        "service": "checkout",
        "fingerprint": "checkout-high-cpu",
    }
    data.update(overrides)
    return TicketRequest(**data)


def items() -> list[dict]:
    return client("dynamodb").scan(TableName=TICKETS_TABLE)["Items"]


def tickets() -> list[dict]:
    return [i for i in items() if i["kind"]["S"] == "ticket"]


@pytest.fixture
def backend(tickets_table):
    return DynamoDBBackend(tickets_table)


def test_create_writes_a_readable_id_and_every_field(backend, ctx):
    result = service.create_ticket(ctx, req())
    assert re.fullmatch(r"OPS-[0-9A-HJKMNP-TV-Z]{6}", result.id)
    assert (result.status, result.deduplicated, result.backend) == ("open", False, "dynamodb")
    [item] = tickets()
    assert item["ticket_id"]["S"] == result.id
    assert item["fingerprint"]["S"] == "checkout-high-cpu"
    assert item["service"]["S"] == "checkout" and item["severity"]["S"] == "sev2"
    assert item["status"]["S"] == "open"
    assert item["description"]["S"].startswith("p99 2.4s since 13:55")
    # the footer ties the ticket to the incident
    assert "incident checkout-high-cpu@2026-11-20T14:05:40.989+0000" in item["description"]["S"]
    lock = [i for i in items() if i["kind"]["S"] == "fplock"]
    assert len(lock) == 1 and lock[0]["holder"]["S"] == result.id
    assert "fingerprint" not in lock[0] and "service" not in lock[0]  # stays out of both GSIs


def test_same_fingerprint_while_open_becomes_a_comment(backend, ctx):
    first = service.create_ticket(ctx, req())
    second = service.create_ticket(ctx, req(title="checkout p99 latency above 2s again", severity="sev1"))
    assert second.deduplicated is True
    assert second.id == first.id
    assert "added a comment to " + first.id in second.message
    assert len(tickets()) == 1
    [stored] = tickets()
    assert stored["occurrences"]["N"] == "2" and stored["comment_count"]["N"] == "1"
    [comment] = backend.comments(first.id)
    assert "OpsAgent saw this again" in comment and "checkout p99 latency above 2s again" in comment


def test_closed_ticket_with_same_fingerprint_gets_a_new_ticket(backend, ctx):
    first = service.create_ticket(ctx, req())
    assert backend.close(first.id).status == "closed"
    second = service.create_ticket(ctx, req())
    assert second.deduplicated is False and second.id != first.id
    assert {t["status"]["S"] for t in tickets()} == {"open", "closed"}
    third = service.create_ticket(ctx, req())
    assert third.deduplicated is True and third.id == second.id


def test_a_stale_lock_whose_holder_was_closed_elsewhere_is_taken_over(backend, ctx):
    first = service.create_ticket(ctx, req())
    # closed by someone editing the item directly: the lock still names it
    client("dynamodb").update_item(
        TableName=TICKETS_TABLE,
        Key={"ticket_id": {"S": first.id}},
        UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "closed"}},
    )
    second = service.create_ticket(ctx, req())
    assert second.deduplicated is False and second.id != first.id
    lock = backend._get(backend.lock_key("checkout-high-cpu"))
    assert lock["holder"]["S"] == second.id


def test_a_racer_that_missed_the_lock_read_still_cannot_create_a_twin(backend, ctx, monkeypatch):
    """Deterministic interleaving: B read "no lock" before A committed. B's conditional write must
    fail and B must fall back to commenting on A's ticket."""
    a = backend.create_or_comment(req(), "dup").ticket
    racer = DynamoDBBackend(TICKETS_TABLE)
    real_get = racer._get
    calls = {"n": 0}

    def stale_first_read(key):
        calls["n"] += 1
        if calls["n"] == 1:
            return None  # B's first look at the lock happened before A's commit
        return real_get(key)

    monkeypatch.setattr(racer, "_get", stale_first_read)
    outcome = racer.create_or_comment(req(), "seen again")
    assert outcome.deduplicated and outcome.ticket.id == a.id
    assert len(tickets()) == 1


@pytest.fixture
def atomic_moto(monkeypatch):
    """moto evaluates a condition and writes without a lock; real DynamoDB serialises writes to an
    item. Serialise moto's write paths so the test checks *our* protocol, not moto's thread-safety."""
    from moto.dynamodb.models import DynamoDBBackend as MotoBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
        original = getattr(MotoBackend, name)

        def locked(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(MotoBackend, name, locked)


def test_concurrent_creates_with_one_fingerprint_make_exactly_one_ticket(tickets_table, ctx, atomic_moto):
    barrier = threading.Barrier(8)

    def create(i: int):
        barrier.wait()
        return service.create_ticket(ctx, req(title=f"checkout latency report {i}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create, range(8)))
    assert len(tickets()) == 1
    ids = {r.id for r in results}
    assert len(ids) == 1
    assert sum(1 for r in results if not r.deduplicated) == 1
    assert sum(1 for r in results if r.deduplicated) == 7
    [stored] = tickets()
    assert stored["occurrences"]["N"] == "8" and stored["comment_count"]["N"] == "7"


def test_without_fingerprint_every_create_is_a_new_ticket(backend, ctx):
    a = service.create_ticket(ctx, req(fingerprint=None))
    b = service.create_ticket(ctx, req(fingerprint=""))
    assert a.id != b.id and not a.deduplicated and not b.deduplicated
    assert [i for i in items() if i["kind"]["S"] == "fplock"] == []
    assert all("fingerprint" not in t for t in tickets())


def test_search_by_service_and_fingerprint_open_only_by_default(backend, ctx):
    open_a = service.create_ticket(ctx, req(fingerprint="fp-a"))
    closed_b = service.create_ticket(ctx, req(fingerprint="fp-b"))
    backend.close(closed_b.id)
    service.create_ticket(ctx, req(service="payments", fingerprint="fp-c"))

    found = service.search(ctx, service="checkout")
    assert [t.id for t in found.tickets] == [open_a.id]
    assert found.tickets[0].title == "checkout p99 latency above 2s" and found.tickets[0].severity == "sev2"
    both = service.search(ctx, service="checkout", include_closed=True)
    assert [t.id for t in both.tickets] == [closed_b.id, open_a.id]  # newest first
    by_fp = service.search(ctx, fingerprint="fp-b", include_closed=True)
    assert [t.id for t in by_fp.tickets] == [closed_b.id]
    assert service.search(ctx, fingerprint="fp-b").tickets == []
    assert service.search(ctx, fingerprint="fp-a", service="payments").tickets == []


def test_search_is_bounded_and_says_so(backend, ctx):
    for i in range(7):
        service.create_ticket(ctx, req(fingerprint=None, title=f"noise {i}"))
    page = service.search(ctx, service="checkout", limit=5)
    assert page.count == 5 and page.more_available is True
    assert "showing the newest 5" in page.note
    assert [t.title for t in page.tickets] == [f"noise {i}" for i in (6, 5, 4, 3, 2)]


def test_search_needs_a_filter_and_a_sane_limit(backend, ctx):
    with pytest.raises(InvalidInput, match="service and/or a fingerprint"):
        service.search(ctx)
    with pytest.raises(InvalidInput, match="between 1 and 25"):
        service.search(ctx, service="checkout", limit=500)


def test_comment_on_unknown_or_internal_ids(backend, ctx):
    with pytest.raises(NotFound):
        service.add_comment(ctx, "OPS-NOPE00", "hello")
    first = service.create_ticket(ctx, req())
    with pytest.raises(InvalidInput):
        service.add_comment(ctx, f"{first.id}#C000001", "comment on a comment")
    with pytest.raises(NotFound):  # the lock item is not a ticket
        service.add_comment(ctx, "FPLOCK", "x")


def test_comment_reports_closed_tickets(backend, ctx):
    first = service.create_ticket(ctx, req())
    backend.close(first.id)
    result = service.add_comment(ctx, first.id, "post-mortem scheduled")
    assert result.status == "closed" and "closed" in result.message
    assert backend.comments(first.id) == ["post-mortem scheduled"]


def test_every_call_is_audited_with_its_decision(backend, ctx):
    first = service.create_ticket(ctx, req())
    service.create_ticket(ctx, req())
    service.add_comment(ctx, first.id, "scaled to 6")
    service.search(ctx, service="checkout")
    with pytest.raises(InvalidInput):
        service.create_ticket(ctx, req().model_dump() | {"severity": "sev9"})
    with pytest.raises(NotFound):
        service.add_comment(ctx, "OPS-ZZZZZZ", "x")
    trail = AuditTrail(AUDIT_TABLE).for_incident(ctx.incident_id)
    assert [(r.operation, r.decision) for r in trail] == [
        ("createTicket", "applied"),
        ("createTicket", "deduplicated"),
        ("addTicketComment", "applied"),
        ("searchTickets", "recorded"),
        ("createTicket", "failed"),
        ("addTicketComment", "failed"),
    ]
    assert (
        trail[0].after["ticket_id"] == first.id and trail[0].parameters["fingerprint"] == "checkout-high-cpu"
    )
    assert "description" not in trail[0].parameters  # bounded: only its size
    assert trail[0].parameters["description_bytes"] > 0
    assert trail[4].detail.startswith("invalid_input") and "sev1, sev2, sev3, sev4" in trail[4].detail
    assert trail[5].detail.startswith("not_found")


def test_audit_failure_never_fails_the_ticket(backend, ctx, monkeypatch):
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", "no-such-audit-table")
    result = service.create_ticket(ctx, req())
    assert result.id and len(tickets()) == 1


def test_default_backend_is_dynamodb_and_needs_only_the_table(tickets_table, ctx):
    assert service.get_backend().name == "dynamodb"
    assert service.get_backend() is service.get_backend()  # cached per container


def test_missing_table_is_a_configuration_error(aws, ctx):
    with pytest.raises(ConfigurationError, match="OPSAGENT_TICKETS_TABLE"):
        service.create_ticket(ctx, req(), audit=None)


def test_url_template_and_prefix(tickets_table, ctx, monkeypatch):
    monkeypatch.setenv(
        "OPSAGENT_TICKETS", '{"id_prefix": "INC", "url_template": "https://ops.example.com/t/{id}"}'
    )
    result = service.create_ticket(ctx, req())
    assert result.id.startswith("INC-") and result.url == f"https://ops.example.com/t/{result.id}"


def test_dynamodb_errors_are_mapped_to_readable_bodies(ctx):
    from botocore.exceptions import ClientError

    from opsagent.errors import PermissionMissing

    class Denied:
        def __getattr__(self, op):
            def call(**kwargs):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, op)

            return call

    backend = DynamoDBBackend("t-tickets", dynamodb=Denied())
    with pytest.raises(PermissionMissing) as err:
        service.create_ticket(ctx, req(), backend=backend, audit=None)
    assert (
        err.value.details["permission"] == "dynamodb:GetItem" and err.value.details["resource"] == "t-tickets"
    )
    with pytest.raises(PermissionMissing) as err:
        service.create_ticket(ctx, req(fingerprint=None), backend=backend, audit=None)
    assert err.value.details["permission"] == "dynamodb:PutItem"


class LostResponseOnce:
    """A DynamoDB client whose first PutItem is applied but its response lost, so botocore's own retry
    sends it again (what a read timeout or a 500 after the write does under retries={"mode": "standard"})."""

    def __init__(self, real):
        self.real, self.replayed = real, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def put_item(self, **kwargs):
        if not self.replayed:
            self.replayed += 1
            self.real.put_item(**kwargs)  # applied; the answer never arrives
        return self.real.put_item(**kwargs)  # the SDK's retry


def test_a_retried_put_without_fingerprint_does_not_file_a_twin(tickets_table, ctx):
    backend = DynamoDBBackend(tickets_table, dynamodb=LostResponseOnce(client("dynamodb")))
    result = service.create_ticket(ctx, req(fingerprint=None), backend=backend, audit=None)
    assert backend.ddb.replayed == 1
    assert [t["ticket_id"]["S"] for t in tickets()] == [result.id]
    assert result.deduplicated is False


def test_an_id_collision_draws_another_id_and_leaves_the_other_ticket_alone(backend, ctx, monkeypatch):
    first = service.create_ticket(ctx, req(fingerprint=None, title="first"), audit=None)
    ids = iter([first.id, "OPS-NEW001"])
    monkeypatch.setattr(backend, "new_id", lambda: next(ids))
    second = service.create_ticket(ctx, req(fingerprint=None, title="second"), backend=backend, audit=None)
    assert second.id == "OPS-NEW001"
    assert {t["ticket_id"]["S"]: t["title"]["S"] for t in tickets()} == {
        first.id: "first",
        "OPS-NEW001": "second",
    }


def test_search_by_service_beyond_one_page_shows_the_newest(backend, ctx):
    """More tickets than one query page (100): the newest must be found, not the newest of the oldest."""
    ddb = client("dynamodb")
    for i in range(230):
        item = backend._ticket_item(
            f"OPS-{i:06d}", req(fingerprint=None, title=f"t{i}"), f"2026-11-20T{i:06d}Z"
        )
        ddb.put_item(TableName=TICKETS_TABLE, Item=item)
    page = service.search(ctx, service="checkout", limit=3, audit=None)
    assert [t.title for t in page.tickets] == ["t229", "t228", "t227"] and page.more_available


def test_a_recurrence_comment_stays_within_the_text_limit(backend, ctx):
    from opsagent.tickets.models import MAX_TEXT_BYTES

    first = service.create_ticket(ctx, req(), audit=None)
    big = req(description="x" * MAX_TEXT_BYTES)
    assert service.create_ticket(ctx, big, audit=None).deduplicated
    [comment] = backend.comments(first.id)
    assert len(comment.encode()) <= MAX_TEXT_BYTES and comment.endswith("(truncated)")
