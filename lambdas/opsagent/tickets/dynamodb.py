"""The default ticket backend: tickets in the DynamoDB table ``OPSAGENT_TICKETS_TABLE``.

Table (created by infra, see CONTRACTS.md "Tickets table"): partition key ``ticket_id`` (S); GSI
``by_fingerprint`` (partition key ``fingerprint``) and GSI ``by_service`` (partition key
``service``, sort key ``created_at``), both projecting ALL attributes. Three kinds of items share it:

* tickets: ``ticket_id`` = ``OPS-7KQ2MX`` (prefix + 6 Crockford base32 chars), with title,
  description, severity, service, fingerprint (only when given), status ``open|closed``,
  created_at/updated_at (ISO-8601 UTC), occurrences, comment_count, create_token (no-fingerprint
  creates: recognises our own write when the SDK retries a PutItem whose answer was lost);
* comments: ``ticket_id`` = ``OPS-7KQ2MX#C000001`` (no fingerprint/service, so in no GSI);
* fingerprint locks: ``ticket_id`` = ``FPLOCK#<sha256(fingerprint)>`` with ``holder`` = the open
  ticket's id (no fingerprint/service attribute either).

IAM: GetItem, Query (table + indexes), PutItem, UpdateItem, DeleteItem; transactions need no extra
action (they are authorised per Put/Update inside them).

One open ticket per fingerprint, even under concurrent creates: a create writes the lock item and
the ticket in one transaction, conditioned on the lock not existing (or, to replace a lock whose
holder is closed or missing, on ``holder`` still being that old id). Whoever loses the race reads
the lock (strongly consistent), finds the winner's open ticket and comments on it. Closing a
ticket releases its lock. Searches use the GSIs (eventually consistent; de-duplication never does).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from opsagent.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionMissing,
    UpstreamUnavailable,
)
from opsagent.tickets.base import FindResult, Outcome, TicketBackend
from opsagent.tickets.models import MAX_SUMMARY_TITLE_CHARS, Ticket, TicketRequest, clip_chars

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
MAX_PAGES = 5
LOCK_ATTEMPTS = 5


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _s(item: dict[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return value["S"] if value and "S" in value else default


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _cancellation_codes(exc: Exception) -> list[str]:
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return [r.get("Code", "") for r in reasons]


class DynamoDBBackend(TicketBackend):
    name = "dynamodb"

    def __init__(
        self, table: str, *, id_prefix: str = "OPS", url_template: str | None = None, dynamodb: Any = None
    ):
        if not table:
            raise ConfigurationError(
                "no tickets table configured: set OPSAGENT_TICKETS_TABLE (or OPSAGENT_TICKETS.table)",
                variable="OPSAGENT_TICKETS_TABLE",
            )
        self.table = table
        self.id_prefix = id_prefix
        self.url_template = url_template
        self._ddb = dynamodb

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            from opsagent.aws import client

            self._ddb = client("dynamodb")
        return self._ddb

    # --- helpers ----------------------------------------------------------------------------------

    def new_id(self) -> str:
        return f"{self.id_prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))

    def url(self, ticket_id: str) -> str:
        return self.url_template.replace("{id}", ticket_id) if self.url_template else ""

    @staticmethod
    def lock_key(fingerprint: str) -> str:
        return "FPLOCK#" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()

    def _call(self, op: str, **kwargs: Any) -> Any:
        """One DynamoDB call with errors mapped; ConditionalCheckFailed/TransactionCanceled are
        re-raised as-is for the caller to interpret."""
        if op != "transact_write_items":
            kwargs = {"TableName": self.table, **kwargs}
        try:
            return getattr(self.ddb, op)(**kwargs)
        except Exception as exc:
            code = _error_code(exc)
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise PermissionMissing(
                    f"the function may not call dynamodb:{_api_name(op)} on the tickets table {self.table}",
                    permission=f"dynamodb:{_api_name(op)}",
                    resource=self.table,
                ) from None
            if code == "ResourceNotFoundException":
                raise ConfigurationError(
                    f"the tickets table {self.table} (or its index) does not exist",
                    variable="OPSAGENT_TICKETS_TABLE",
                ) from None
            if code == "ValidationException":
                raise ConfigurationError(
                    f"the tickets table {self.table} does not have the expected keys/indexes ({code})",
                    variable="OPSAGENT_TICKETS_TABLE",
                ) from None
            raise UpstreamUnavailable(
                f"DynamoDB failed ({code or type(exc).__name__}) on the tickets table",
                dependency="dynamodb:tickets",
            ) from None

    def _get(self, key: str) -> dict[str, Any] | None:
        return self._call("get_item", Key={"ticket_id": {"S": key}}, ConsistentRead=True).get("Item")

    def _update_ticket(
        self, ticket_id: str, update: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """UpdateItem on an existing *ticket* item (not a comment or lock); its new attributes. NotFound
        when there is no such ticket."""
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        try:
            result = self._call(
                "update_item",
                Key={"ticket_id": {"S": ticket_id}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(ticket_id) AND kind = :ticket",
                ExpressionAttributeValues={**values, ":ticket": {"S": "ticket"}},
                ReturnValues="ALL_NEW",
                **extra,
            )
        except Exception as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise NotFound(f"no ticket {ticket_id}", ticket_id=ticket_id) from None
            raise
        return result["Attributes"]

    def _ticket(self, item: dict[str, Any]) -> Ticket:
        tid = _s(item, "ticket_id")
        return Ticket(
            id=tid,
            url=self.url(tid),
            status=_s(item, "status", "open"),
            title=clip_chars(_s(item, "title"), MAX_SUMMARY_TITLE_CHARS),
            severity=_s(item, "severity"),
            service=_s(item, "service"),
            created_at=_s(item, "created_at"),
        )

    def _ticket_item(self, ticket_id: str, request: TicketRequest, now: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "ticket_id": {"S": ticket_id},
            "kind": {"S": "ticket"},
            "title": {"S": request.title},
            "description": {"S": request.description},
            "severity": {"S": request.severity},
            "service": {"S": request.service},
            "status": {"S": "open"},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "occurrences": {"N": "1"},
            "comment_count": {"N": "0"},
        }
        if request.fingerprint:
            item["fingerprint"] = {"S": request.fingerprint}
        return item

    # --- interface --------------------------------------------------------------------------------

    def create(self, request: TicketRequest) -> Ticket:
        if request.fingerprint:
            # Through the lock, so a plain create cannot make a second open ticket either.
            outcome = self._create_locked(request, recurrence_comment=None)
            if outcome is None:
                raise Conflict(
                    "an open ticket with this fingerprint already exists", fingerprint=request.fingerprint
                )
            return outcome.ticket
        now = _now()
        # Marks our own write: botocore retries a PutItem whose answer was lost (read timeout, 500), and
        # that retry fails the condition on the item we just wrote. Without the mark it would look like
        # an id collision and we would write a second ticket.
        token = secrets.token_hex(8)
        for _ in range(3):
            ticket_id = self.new_id()
            item = self._ticket_item(ticket_id, request, now)
            item["create_token"] = {"S": token}
            try:
                self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(ticket_id)")
            except Exception as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise
                existing = self._get(ticket_id)
                if not existing or _s(existing, "create_token") != token:
                    continue  # a real id collision: draw another
            return Ticket.opened(ticket_id, self.url(ticket_id), request, now)
        raise Conflict("could not allocate a unique ticket id; try again")

    def create_or_comment(self, request: TicketRequest, recurrence_comment: str) -> Outcome:
        if not request.fingerprint:
            return Outcome(ticket=self.create(request), deduplicated=False)
        outcome = self._create_locked(request, recurrence_comment)
        assert outcome is not None
        return outcome

    def _create_locked(self, request: TicketRequest, recurrence_comment: str | None) -> Outcome | None:
        """Create under the fingerprint lock; when an open holder exists, comment on it (or return
        None when ``recurrence_comment`` is None)."""
        assert request.fingerprint
        lock = self.lock_key(request.fingerprint)
        for _ in range(LOCK_ATTEMPTS):
            item = self._get(lock)
            holder = _s(item, "holder") if item else ""
            if holder:
                current = self._get(holder)
                if current and _s(current, "status") == "open":
                    if recurrence_comment is None:
                        return None
                    ticket = self.comment(holder, recurrence_comment, occurrence=True)
                    return Outcome(ticket=ticket, deduplicated=True)
            now = _now()
            ticket_id = self.new_id()
            if item:  # stale lock: its holder is closed or gone; take it over if nobody else did
                lock_op = {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"ticket_id": {"S": lock}},
                        "UpdateExpression": "SET holder = :new, updated_at = :now",
                        "ConditionExpression": "holder = :old",
                        "ExpressionAttributeValues": {
                            ":new": {"S": ticket_id},
                            ":old": {"S": holder},
                            ":now": {"S": now},
                        },
                    }
                }
            else:
                lock_op = {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "ticket_id": {"S": lock},
                            "kind": {"S": "fplock"},
                            "holder": {"S": ticket_id},
                            "updated_at": {"S": now},
                        },
                        "ConditionExpression": "attribute_not_exists(ticket_id)",
                    }
                }
            ticket_op = {
                "Put": {
                    "TableName": self.table,
                    "Item": self._ticket_item(ticket_id, request, now),
                    "ConditionExpression": "attribute_not_exists(ticket_id)",
                }
            }
            try:
                self._call("transact_write_items", TransactItems=[lock_op, ticket_op])
            except Exception as exc:
                if _error_code(exc) in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                    continue  # lost the race (or an id collision): look again
                raise
            return Outcome(
                ticket=Ticket.opened(ticket_id, self.url(ticket_id), request, now),
                deduplicated=False,
            )
        raise Conflict("too much contention on this fingerprint; try again", fingerprint=request.fingerprint)

    def comment(self, ticket_id: str, text: str, *, occurrence: bool = False) -> Ticket:
        if "#" in ticket_id:
            raise InvalidInput("ticket_id must be a ticket id like OPS-7KQ2MX", field="ticket_id")
        now = _now()
        update = "SET updated_at = :now ADD comment_count :one" + (", occurrences :one" if occurrence else "")
        attrs = self._update_ticket(ticket_id, update, {":now": {"S": now}, ":one": {"N": "1"}})
        seq = int(attrs["comment_count"]["N"])
        self._call(
            "put_item",
            Item={
                "ticket_id": {"S": f"{ticket_id}#C{seq:06d}"},
                "kind": {"S": "comment"},
                "parent": {"S": ticket_id},
                "body": {"S": text},
                "created_at": {"S": now},
            },
        )
        return self._ticket(attrs)

    def _find(
        self, *, fingerprint: str | None, service: str | None, open_only: bool, limit: int
    ) -> FindResult:
        if fingerprint:
            kwargs: dict[str, Any] = {
                "IndexName": "by_fingerprint",
                "KeyConditionExpression": "fingerprint = :k",
                "ExpressionAttributeValues": {":k": {"S": fingerprint}},
            }
        else:
            kwargs = {
                "IndexName": "by_service",
                "KeyConditionExpression": "service = :k",
                "ExpressionAttributeValues": {":k": {"S": service}},
                "ScanIndexForward": False,  # newest first
            }
        filters, names = [], {}
        if open_only:
            filters.append("#st = :open")
            names["#st"] = "status"
            kwargs["ExpressionAttributeValues"][":open"] = {"S": "open"}
        if fingerprint and service:
            filters.append("service = :svc")
            kwargs["ExpressionAttributeValues"][":svc"] = {"S": service}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        items: list[dict[str, Any]] = []
        more = False
        for page_no in range(MAX_PAGES):
            kwargs["Limit"] = 100
            page = self._call("query", **kwargs)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                break
            if len(items) > limit and not fingerprint:
                more = True  # by_service pages are newest first: what we have is what we show
                break
            if page_no == MAX_PAGES - 1:
                more = True
            kwargs["ExclusiveStartKey"] = last
        items = [i for i in items if _s(i, "kind", "ticket") == "ticket"]
        items.sort(key=lambda i: _s(i, "created_at"), reverse=True)
        if len(items) > limit:
            more = True
        return FindResult(tickets=[self._ticket(i) for i in items[:limit]], more=more)

    # --- beyond the action group (humans, CLI, drill) -------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        item = self._get(ticket_id)
        if not item or _s(item, "kind") != "ticket":
            raise NotFound(f"no ticket {ticket_id}", ticket_id=ticket_id)
        return self._ticket(item)

    def comments(self, ticket_id: str) -> list[str]:
        item = self._get(ticket_id)
        if not item:
            raise NotFound(f"no ticket {ticket_id}", ticket_id=ticket_id)
        count = int(item.get("comment_count", {}).get("N", "0"))
        bodies = []
        for seq in range(1, count + 1):
            comment = self._get(f"{ticket_id}#C{seq:06d}")
            if comment:
                bodies.append(_s(comment, "body"))
        return bodies

    def close(self, ticket_id: str) -> Ticket:
        """Mark the ticket closed and release its fingerprint lock (a later create with the same
        fingerprint opens a new ticket)."""
        attrs = self._update_ticket(
            ticket_id,
            "SET #st = :closed, updated_at = :now",
            {":closed": {"S": "closed"}, ":now": {"S": _now()}},
            names={"#st": "status"},
        )
        fingerprint = _s(attrs, "fingerprint")
        if fingerprint:
            try:
                self._call(
                    "delete_item",
                    Key={"ticket_id": {"S": self.lock_key(fingerprint)}},
                    ConditionExpression="holder = :me",
                    ExpressionAttributeValues={":me": {"S": ticket_id}},
                )
            except Exception as exc:
                if _error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # the lock already points at another ticket: nothing to release
        return self._ticket(attrs)


def _api_name(op: str) -> str:
    # IAM has no TransactWriteItems action: a transaction is authorised per constituent operation
    # (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
    if op == "transact_write_items":
        return "PutItem+dynamodb:UpdateItem"
    return "".join(part.capitalize() for part in op.split("_"))


def create_table(table_name: str, *, dynamodb: Any = None) -> None:
    """Create the tickets table from its key schema in :mod:`opsagent.dynamo.tables` (tests, the
    offline drill; infra creates the real one from the same schema)."""
    from opsagent.aws import client
    from opsagent.dynamo import tables

    tables.create_table(tables.TICKETS, table_name, dynamodb or client("dynamodb"))
