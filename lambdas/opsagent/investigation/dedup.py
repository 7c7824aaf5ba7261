"""At-least-once delivery and flapping alarms, decided with conditional writes in the state table.

State table keys (CONTRACTS.md): pk ``alarm#<alarm ARN>``; two kinds of items per alarm:

``sk = delivery#<state timestamp>`` — one per alarm transition. The first delivery claims it
    (``attribute_not_exists``) with status ``started`` and a lease; a duplicate delivery finds it and
    is ignored. If the investigation fails, the claim is released so Lambda's retry can redo it; if
    the Lambda died without releasing it, a redelivery may take it over once the lease has expired.

``sk = incident`` — the alarm's open incident: incident id, ticket id, ``last_alarm_ms``. A new
    transition claims leadership (a new investigation) only if there is no such item or its last
    ALARM is older than the flap window; otherwise it *joins* the open incident (sliding window:
    ``last_alarm_ms`` moves forward) and the caller comments on that ticket. Both outcomes are one
    conditional write, so two concurrent transitions cannot both start investigations. A join that
    arrives before the leader has filed its ticket leaves a note the leader posts once it has.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsagent.aws import client
from opsagent.errors import ConfigurationError, UpstreamUnavailable
from opsagent.investigation.alarm import AlarmFacts

MAX_NOTES = 20


def _conditional_failed(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Claim(BaseModel):
    outcome: Literal["claimed", "duplicate", "taken_over"]
    status: str | None = Field(default=None, description="The existing claim's status for a duplicate")
    incident_id: str | None = None
    ticket_id: str | None = None


class IncidentSlot(BaseModel):
    role: Literal["lead", "join"]
    incident_id: str
    ticket_id: str | None = None
    alarm_count: int = 1
    opened_ms: int = 0


class AlarmStateStore:
    """De-duplication and flap coalescing over the state table (``OPSAGENT_STATE_TABLE``)."""

    def __init__(self, table_name: str | None, *, dynamodb: Any = None, clock=time.time) -> None:
        if not table_name:
            raise ConfigurationError(
                "the alarm trigger needs OPSAGENT_STATE_TABLE for de-duplication",
                variable="OPSAGENT_STATE_TABLE",
            )
        self.table = table_name
        self._ddb = dynamodb
        self._clock = clock

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def _call(self, op: str, **kwargs: Any) -> dict:
        try:
            return getattr(self.ddb, op)(TableName=self.table, **kwargs)
        except Exception as exc:
            if _conditional_failed(exc):
                raise
            raise UpstreamUnavailable(
                f"state table {op} failed: {type(exc).__name__}", dependency="dynamodb:state"
            ) from exc

    @staticmethod
    def _pk(facts: AlarmFacts) -> dict:
        return {"S": f"alarm#{facts.alarm_arn}"[:1024]}

    # --- deliveries ---------------------------------------------------------------------------

    def claim_delivery(self, facts: AlarmFacts, *, ttl_hours: int, lease_seconds: int) -> Claim:
        now = self._clock()
        key = {"pk": self._pk(facts), "sk": {"S": f"delivery#{facts.state_timestamp}"}}
        item = {
            **key,
            "status": {"S": "started"},
            "incident_id": {"S": facts.incident_id},
            "claimed_at": {"N": str(int(now))},
            "lease_until": {"N": str(int(now + lease_seconds))},
            "expires_at": {"N": str(int(now + ttl_hours * 3600))},
        }
        try:
            self._call(
                "put_item",
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#s = :started AND lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":started": {"S": "started"}, ":now": {"N": str(int(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            old = (getattr(exc, "response", None) or {}).get("Item") or self._get(key) or {}
            return Claim(
                outcome="duplicate",
                status=_s(old, "status"),
                incident_id=_s(old, "incident_id"),
                ticket_id=_s(old, "ticket_id"),
            )
        return Claim(outcome="claimed")

    def finish_delivery(
        self, facts: AlarmFacts, *, incident_id: str, ticket_id: str | None, result: str
    ) -> None:
        values: dict[str, Any] = {
            ":done": {"S": "done"},
            ":i": {"S": incident_id},
            ":r": {"S": result},
        }
        expr = "SET #s = :done, incident_id = :i, #r = :r"
        if ticket_id:
            expr += ", ticket_id = :t"
            values[":t"] = {"S": ticket_id}
        self._call(
            "update_item",
            Key={"pk": self._pk(facts), "sk": {"S": f"delivery#{facts.state_timestamp}"}},
            UpdateExpression=expr,
            ExpressionAttributeNames={"#s": "status", "#r": "result"},
            ExpressionAttributeValues=values,
        )

    def release_delivery(self, facts: AlarmFacts) -> None:
        """Forget a claim whose investigation failed, so a retry can run it (best effort)."""
        with contextlib.suppress(Exception):  # the lease expiry is the safety net
            self._call(
                "delete_item",
                Key={"pk": self._pk(facts), "sk": {"S": f"delivery#{facts.state_timestamp}"}},
                ConditionExpression="#s = :started",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":started": {"S": "started"}},
            )

    # --- flapping -----------------------------------------------------------------------------

    def open_or_join(self, facts: AlarmFacts, *, window_minutes: int, ttl_hours: int) -> IncidentSlot:
        """Lead a new incident, or join the open one when the last ALARM is within the window."""
        key = {"pk": self._pk(facts), "sk": {"S": "incident"}}
        at_ms = int(facts.state_time.timestamp() * 1000)
        if window_minutes <= 0:
            return IncidentSlot(role="lead", incident_id=facts.incident_id, opened_ms=at_ms)
        cutoff = at_ms - window_minutes * 60_000
        expires = int(self._clock() + max(ttl_hours * 3600, window_minutes * 60 * 2))
        try:
            self._call(
                "put_item",
                Item={
                    **key,
                    "incident_id": {"S": facts.incident_id},
                    "opened_ms": {"N": str(at_ms)},
                    "last_alarm_ms": {"N": str(at_ms)},
                    "alarm_count": {"N": "1"},
                    "expires_at": {"N": str(expires)},
                },
                ConditionExpression="attribute_not_exists(pk) OR last_alarm_ms < :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": str(cutoff)}},
            )
            return IncidentSlot(role="lead", incident_id=facts.incident_id, opened_ms=at_ms)
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
        # Join: slide the window forward (never backward for an out-of-order delivery).
        attrs = self._call(
            "update_item",
            Key=key,
            UpdateExpression="SET last_alarm_ms = if_not_exists(last_alarm_ms, :at), expires_at = :exp "
            "ADD alarm_count :one",
            ExpressionAttributeValues={
                ":at": {"N": str(at_ms)},
                ":one": {"N": "1"},
                ":exp": {"N": str(expires)},
            },
            ReturnValues="ALL_NEW",
        ).get("Attributes", {})
        if int(_n(attrs, "last_alarm_ms") or 0) < at_ms:
            try:
                self._call(
                    "update_item",
                    Key=key,
                    UpdateExpression="SET last_alarm_ms = :at",
                    ConditionExpression="last_alarm_ms < :at",
                    ExpressionAttributeValues={":at": {"N": str(at_ms)}},
                )
            except Exception as exc:
                if not _conditional_failed(exc):
                    raise
        return IncidentSlot(
            role="join",
            incident_id=_s(attrs, "incident_id") or facts.incident_id,
            ticket_id=_s(attrs, "ticket_id"),
            alarm_count=int(_n(attrs, "alarm_count") or 1),
            opened_ms=int(_n(attrs, "opened_ms") or 0),
        )

    def replace_incident(self, facts: AlarmFacts, *, stale_incident_id: str, ttl_hours: int) -> bool:
        """Take the incident slot over from a closed incident; False if someone else already did."""
        at_ms = int(facts.state_time.timestamp() * 1000)
        try:
            self._call(
                "put_item",
                Item={
                    "pk": self._pk(facts),
                    "sk": {"S": "incident"},
                    "incident_id": {"S": facts.incident_id},
                    "opened_ms": {"N": str(at_ms)},
                    "last_alarm_ms": {"N": str(at_ms)},
                    "alarm_count": {"N": "1"},
                    "expires_at": {"N": str(int(self._clock() + ttl_hours * 3600))},
                },
                ConditionExpression="incident_id = :old",
                ExpressionAttributeValues={":old": {"S": stale_incident_id}},
            )
            return True
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            return False

    def release_incident(self, facts: AlarmFacts, *, incident_id: str) -> None:
        """Give up the lead of an incident whose investigation failed before filing a ticket, so
        the retry leads again instead of joining a ticket that does not exist (best effort)."""
        with contextlib.suppress(Exception):
            self._call(
                "delete_item",
                Key={"pk": self._pk(facts), "sk": {"S": "incident"}},
                ConditionExpression="incident_id = :i AND attribute_not_exists(ticket_id)",
                ExpressionAttributeValues={":i": {"S": incident_id}},
            )

    def attach_ticket(self, facts: AlarmFacts, *, incident_id: str, ticket_id: str) -> list[str]:
        """Record the lead's ticket; returns (and clears) notes left by joins that came earlier."""
        try:
            attrs = self._call(
                "update_item",
                Key={"pk": self._pk(facts), "sk": {"S": "incident"}},
                UpdateExpression="SET ticket_id = :t REMOVE notes",
                ConditionExpression="incident_id = :i",
                ExpressionAttributeValues={":t": {"S": ticket_id}, ":i": {"S": incident_id}},
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            return []  # the slot moved on (window elapsed, or flap coalescing disabled)
        return [v.get("S", "") for v in attrs.get("notes", {}).get("L", [])]

    def leave_note(self, facts: AlarmFacts, *, incident_id: str, note: str) -> None:
        """For a join that arrives before the lead has a ticket: the lead posts it later."""
        try:
            self._call(
                "update_item",
                Key={"pk": self._pk(facts), "sk": {"S": "incident"}},
                UpdateExpression="SET notes = list_append(if_not_exists(notes, :empty), :n)",
                ConditionExpression="incident_id = :i AND "
                "(attribute_not_exists(notes) OR size(notes) < :max)",
                ExpressionAttributeValues={
                    ":n": {"L": [{"S": note[:500]}]},
                    ":empty": {"L": []},
                    ":i": {"S": incident_id},
                    ":max": {"N": str(MAX_NOTES)},
                },
            )
        except Exception as exc:
            if not _conditional_failed(exc):
                raise

    def _get(self, key: dict) -> dict | None:
        return self._call("get_item", Key=key, ConsistentRead=True).get("Item")


def _s(item: dict, name: str) -> str | None:
    return item.get(name, {}).get("S")


def _n(item: dict, name: str) -> str | None:
    return item.get(name, {}).get("N")


def create_state_table(table_name: str, *, dynamodb: Any = None) -> None:
    """The state table with the contract's keys and TTL (tests and the drill; infra makes the real one)."""
    ddb = dynamodb or client("dynamodb")
    ddb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ddb.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
