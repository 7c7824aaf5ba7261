"""The audit trail: one DynamoDB item per tool decision, queryable per incident, in order.

Every mutation attempt and every refusal is recorded (scaling), as are ticket writes and trigger
decisions. A record says who asked (incident, session, agent, alias, trigger), what was asked
(operation + bounded parameters), what happened (``decision`` + ``rule``/``detail``), the state
before and after, and how to undo it. Records expire through DynamoDB TTL (``expires_at``).

Usage::

    from opsagent.audit import AuditTrail

    trail = AuditTrail.from_env()                 # OPSAGENT_AUDIT_TABLE (+ OPSAGENT_AUDIT_TTL_DAYS)
    rec = trail.record(ctx, "createTicket", {"title": "..."}, "applied", after={"ticket_id": "T-1"})
    trail.for_incident(ctx.incident_id)           # -> [AuditRecord, ...] oldest first

Table (created by infra): partition key ``incident_id`` (S), sort key ``sk`` (S) =
``<at>#<seq>`` where ``at`` is a fixed-width UTC timestamp and ``seq`` a ULID, so a query on the
partition returns the trail in time order. Structured fields (parameters, before, after) are
stored as JSON strings: no float/Decimal surprises and a hard size bound per item.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from opsagent.aws import client
from opsagent.context import CallContext
from opsagent.errors import ConfigurationError, InvalidInput, UpstreamUnavailable

Decision = Literal["applied", "refused", "dry_run", "failed", "deduplicated", "recorded"]
DECISIONS: frozenset[str] = frozenset(get_args(Decision))

DEFAULT_TTL_DAYS = 400
# Per structured field (parameters / before / after) once JSON encoded; the whole item stays far
# below DynamoDB's 400 KB and a trail of 100 records still fits in a report.
MAX_FIELD_BYTES = 4096
MAX_TEXT = 1000  # detail, undo, rule
MAX_STRING_VALUE = 512  # any single string inside a structured field
MAX_KEYS = 40
MAX_ITEMS = 20
MAX_DEPTH = 4


class AuditRecord(BaseModel):
    """One decision taken by a tool, as stored."""

    audit_id: str = Field(description="Unique id of this record (a ULID, sortable by time)")
    incident_id: str
    at: str = Field(description="ISO-8601 UTC time the decision was recorded")
    seq: str = Field(description="Tie-breaker within the same instant (ULID)")
    session_id: str
    agent_id: str
    agent_alias: str
    trigger: str
    operation: str = Field(description="operationId, e.g. scaleDeployment")
    parameters: dict[str, Any] = Field(default_factory=dict)
    decision: Decision
    rule: str | None = None
    detail: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    undo: str | None = None
    expires_at: int | None = Field(default=None, description="Epoch seconds when DynamoDB TTL deletes it")

    @property
    def sk(self) -> str:
        return f"{self.at}#{self.seq}"


class AuditSettings(BaseModel):
    """OPSAGENT_AUDIT_TABLE (required) and OPSAGENT_AUDIT_TTL_DAYS (default 400)."""

    audit_table: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    audit_ttl_days: int = Field(default=DEFAULT_TTL_DAYS, ge=1, le=3650)


# --- ids --------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ulid_lock = threading.Lock()
_ulid_last: list[int] = [0, 0]  # [ms, random80] of the last id this process produced


def new_ulid() -> str:
    """A ULID (48-bit ms time + 80-bit random), strictly increasing within this process."""
    with _ulid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _ulid_last[0]:
            ms, rand = _ulid_last[0], _ulid_last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to increment
        _ulid_last[0], _ulid_last[1] = ms, rand
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    """Fixed-width, lexicographically sortable UTC timestamp."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- bounding ---------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with how much was cut."""
    if len(text) <= limit:
        return text
    suffix = f"...(+{len(text)} chars total)"
    return text[: max(0, limit - len(suffix))] + suffix


def bound(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with long strings clipped and big containers cut, saying what
    was cut (``"_omitted": N``)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _clip(value, MAX_STRING_VALUE)
    if depth >= MAX_DEPTH:
        return _clip(json.dumps(value, default=str), 200)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_KEYS:
                out["_omitted"] = len(value) - MAX_KEYS
                break
            out[_clip(str(k), 100)] = bound(v, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        bounded = [bound(v, depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            bounded.append({"_omitted": len(items) - MAX_ITEMS})
        return bounded
    if isinstance(value, BaseModel):
        return bound(value.model_dump(mode="json"), depth)
    return _clip(str(value), MAX_STRING_VALUE)


def _encode(value: dict[str, Any] | None) -> str | None:
    """JSON text of a structured field, never more than MAX_FIELD_BYTES."""
    if value is None:
        return None
    text = json.dumps(bound(value), default=str, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) <= MAX_FIELD_BYTES:
        return text
    # Still too big (many medium strings): keep a clipped preview, flagged as truncated. Quotes and
    # backslashes grow when the preview is encoded again, so cut until the whole thing fits.
    size, keep = len(text.encode()), MAX_FIELD_BYTES - 200
    while True:
        preview = text.encode()[: max(0, keep)].decode(errors="ignore")
        out = json.dumps({"_truncated": True, "_original_bytes": size, "preview": preview})
        over = len(out.encode()) - MAX_FIELD_BYTES
        if over <= 0:
            return out
        keep -= over


# --- the trail --------------------------------------------------------------------------------


class AuditTrail:
    """Append-only audit records in DynamoDB (see module docstring for the table shape)."""

    def __init__(self, table_name: str, *, ttl_days: int = DEFAULT_TTL_DAYS, dynamodb: Any = None) -> None:
        if not table_name:
            raise ConfigurationError("audit table name is empty", variable="OPSAGENT_AUDIT_TABLE")
        self.table_name = table_name
        self.ttl_days = ttl_days
        self._ddb = dynamodb

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AuditTrail:
        from opsagent.settings import load_settings

        settings = load_settings(AuditSettings, environ)
        return cls(settings.audit_table, ttl_days=settings.audit_ttl_days)

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def record(
        self,
        ctx: CallContext,
        operation: str,
        parameters: dict[str, Any],
        decision: str,
        *,
        rule: str | None = None,
        detail: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        undo: str | None = None,
        reserved: tuple[str, str] | None = None,
    ) -> AuditRecord:
        """Write one record and return it. Raises InvalidInput for an unknown decision and
        UpstreamUnavailable (retryable) if DynamoDB cannot be written.

        ``reserved``: ``(audit_id, at)`` from :meth:`reserve_id`, decided before the action (an
        intent record carries it). Writing it twice is harmless: the second write finds the record
        and returns, so a take-over that recovers an attempt never doubles its record."""
        if decision not in DECISIONS:
            raise InvalidInput(
                f"unknown audit decision {decision!r}; use one of {sorted(DECISIONS)}", field="decision"
            )
        if not operation or len(operation) > 64:
            raise InvalidInput("audit operation must be an operationId (1-64 chars)", field="operation")
        if reserved is not None:
            seq, stamp = reserved
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        else:
            moment = _now()
            seq = new_ulid()
        params_json = _encode(parameters or {})
        before_json, after_json = _encode(before), _encode(after)
        rec = AuditRecord(
            audit_id=seq,
            incident_id=ctx.incident_id,
            at=_stamp(moment),
            seq=seq,
            session_id=ctx.session_id,
            agent_id=ctx.agent_id,
            agent_alias=ctx.agent_alias,
            trigger=ctx.trigger,
            operation=operation,
            parameters=json.loads(params_json or "{}"),
            decision=decision,  # type: ignore[arg-type]
            rule=_clip(rule, 100) if rule else None,
            detail=_clip(detail, MAX_TEXT) if detail else None,
            before=json.loads(before_json) if before_json else None,
            after=json.loads(after_json) if after_json else None,
            undo=_clip(undo, MAX_TEXT) if undo else None,
            expires_at=int((moment + timedelta(days=self.ttl_days)).timestamp()),
        )
        item: dict[str, Any] = {
            "incident_id": {"S": rec.incident_id},
            "sk": {"S": rec.sk},
            "audit_id": {"S": rec.audit_id},
            "at": {"S": rec.at},
            "seq": {"S": rec.seq},
            "session_id": {"S": rec.session_id},
            "agent_id": {"S": rec.agent_id},
            "agent_alias": {"S": rec.agent_alias},
            "trigger": {"S": rec.trigger},
            "operation": {"S": rec.operation},
            "parameters": {"S": params_json or "{}"},
            "decision": {"S": rec.decision},
            "expires_at": {"N": str(rec.expires_at)},
        }
        for name, text in (
            ("rule", rec.rule),
            ("detail", rec.detail),
            ("before", before_json),
            ("after", after_json),
            ("undo", rec.undo),
        ):
            if text is not None:
                item[name] = {"S": text}
        try:
            self.ddb.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(sk)",  # never overwrite history
            )
        except Exception as exc:  # botocore errors; imported lazily to keep this module light
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if reserved is not None and code == "ConditionalCheckFailedException":
                return rec  # written by an earlier attempt under the same reserved id
            raise UpstreamUnavailable(
                f"could not write the audit record: {type(exc).__name__}", dependency="dynamodb:audit"
            ) from exc
        return rec

    @staticmethod
    def reserve_id() -> tuple[str, str]:
        """An (audit_id, at) to write later with ``record(..., reserved=...)``."""
        return new_ulid(), _stamp(_now())

    def for_incident(self, incident_id: str, *, limit: int = 1000) -> list[AuditRecord]:
        """The incident's records, oldest first (at most ``limit``)."""
        records: list[AuditRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "incident_id = :i",
            "ExpressionAttributeValues": {":i": {"S": incident_id}},
            "ScanIndexForward": True,
            "ConsistentRead": True,
        }
        while len(records) < limit:
            kwargs["Limit"] = min(500, limit - len(records))
            try:
                page = self.ddb.query(**kwargs)
            except Exception as exc:
                raise UpstreamUnavailable(
                    f"could not read the audit trail: {type(exc).__name__}", dependency="dynamodb:audit"
                ) from exc
            records.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return records

    def get(self, incident_id: str, audit_id: str) -> AuditRecord | None:
        """One record of an incident by its audit id (linear in the incident's trail)."""
        return next((r for r in self.for_incident(incident_id) if r.audit_id == audit_id), None)


def _from_item(item: dict[str, Any]) -> AuditRecord:
    def s(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def j(name: str) -> dict[str, Any] | None:
        text = s(name)
        return json.loads(text) if text else None

    return AuditRecord(
        audit_id=s("audit_id") or "",
        incident_id=s("incident_id") or "",
        at=s("at") or "",
        seq=s("seq") or "",
        session_id=s("session_id") or "",
        agent_id=s("agent_id") or "",
        agent_alias=s("agent_alias") or "",
        trigger=s("trigger") or "",
        operation=s("operation") or "",
        parameters=j("parameters") or {},
        decision=s("decision"),  # type: ignore[arg-type]
        rule=s("rule"),
        detail=s("detail"),
        before=j("before"),
        after=j("after"),
        undo=s("undo"),
        expires_at=int(item["expires_at"]["N"]) if "expires_at" in item else None,
    )


def create_table(table_name: str, *, dynamodb: Any = None) -> None:
    """Create the audit table with the contract's keys and TTL (tests, the offline drill; infra
    creates the real one)."""
    from opsagent import state

    state.create_table(table_name, dynamodb=dynamodb or client("dynamodb"), hash_key="incident_id")
