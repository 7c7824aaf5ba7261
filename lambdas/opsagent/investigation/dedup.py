"""At-least-once delivery and flapping alarms, decided with conditional writes in the state table.

State table keys (CONTRACTS.md): pk ``alarm#<alarm ARN>``; two kinds of items per alarm:

``sk = delivery#<state timestamp>`` — one per alarm transition. The first delivery claims it
    (``attribute_not_exists``) with status ``started``, a lease and its owner (the Lambda request
    id); a delivery that finds it ``done`` is a duplicate and is ignored. If the investigation fails,
    the claim is released so Lambda's retry can redo it. If the Lambda died without releasing it
    (timeout, out of memory), Lambda's own retry of the event (same request id) takes it over at
    once, and any other delivery once the lease — the invocation's remaining time — is over. A
    delivery that finds the claim ``started`` by someone else within the lease does *not* succeed: it
    raises :class:`DeliveryInProgress` (retryable), so Lambda retries it later and, should the
    first investigation never finish, the event ends in the DLQ instead of being lost.

``sk = incident`` — the alarm's open incident: incident id, ticket id, ``last_alarm_ms`` and the
    lead's lease ``lead_until``. A new transition claims leadership (a new investigation) only if
    there is no such item or its last ALARM is older than the flap window; otherwise it *joins* the
    open incident (sliding window: ``last_alarm_ms`` moves forward) and the caller comments on that
    ticket. Both outcomes are one conditional write, so two concurrent transitions cannot both start
    investigations. A join that arrives before the leader has filed its ticket leaves a note the
    leader posts once it has — unless the lead's lease is over with no ticket (it died): then the
    slot is ``orphaned`` and the caller takes the incident over, so re-fires are never coalesced into
    an investigation that will not report. A retry of the lead's own transition leads again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsagent.errors import ConfigurationError, Conflict
from opsagent.investigation.alarm import AlarmFacts
from opsagent.state import StateStore

MAX_NOTES = 20


class DeliveryInProgress(Conflict):
    """Another invocation is investigating this alarm transition right now: retry later."""

    retryable = True


def _conditional_failed(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Claim(BaseModel):
    outcome: Literal["claimed", "duplicate", "taken_over"]
    status: str | None = Field(default=None, description="The existing claim's status for a duplicate")
    incident_id: str | None = None
    ticket_id: str | None = None
    token: str = Field(default="", description="Identifies this claim (release only what you claimed)")


class IncidentSlot(BaseModel):
    role: Literal["lead", "join"]
    incident_id: str
    ticket_id: str | None = None
    alarm_count: int = 1
    opened_ms: int = 0
    orphaned: bool = Field(default=False, description="join: the lead died without filing a ticket")


class AlarmStateStore(StateStore):
    """De-duplication and flap coalescing over the state table (``OPSAGENT_STATE_TABLE``): the
    trigger's items, with the state store's client and error mapping (DynamoDB failures become
    retryable UpstreamUnavailable; conditional-check failures propagate as they are)."""

    def __init__(self, table_name: str | None, *, dynamodb: Any = None, clock=time.time) -> None:
        if not table_name:
            raise ConfigurationError(
                "the alarm trigger needs OPSAGENT_STATE_TABLE for de-duplication",
                variable="OPSAGENT_STATE_TABLE",
            )
        super().__init__(table_name, dynamodb=dynamodb, clock=clock)

    @staticmethod
    def _pk(facts: AlarmFacts) -> dict:
        return {"S": f"alarm#{facts.alarm_arn}"[:1024]}

    def _seen(self, exc: Exception, key: dict) -> dict:
        """The item a failed condition saw (ReturnValuesOnConditionCheckFailure), else read it."""
        item = (getattr(exc, "response", None) or {}).get("Item")
        return item or self._get(key["pk"]["S"], key["sk"]["S"]) or {}

    # --- deliveries ---------------------------------------------------------------------------

    def claim_delivery(
        self, facts: AlarmFacts, *, ttl_hours: int, lease_seconds: int, owner: str = ""
    ) -> Claim:
        """Claim one transition for ``lease_seconds`` (at least what the invocation may still run).
        ``owner``: the Lambda request id; a retry of the same request takes its own claim over."""
        now = self.clock()
        key = {"pk": self._pk(facts), "sk": {"S": f"delivery#{facts.state_timestamp}"}}
        token = uuid.uuid4().hex
        item = {
            **key,
            "status": {"S": "started"},
            "incident_id": {"S": facts.incident_id},
            "owner": {"S": owner or "-"},
            "token": {"S": token},
            "claimed_at": {"N": str(int(now))},
            "lease_until": {"N": str(int(now + lease_seconds))},
            "expires_at": {"N": str(int(now + ttl_hours * 3600))},
        }
        takeover = "lease_until < :now" + (" OR #o = :me" if owner else "")
        values = {":started": {"S": "started"}, ":now": {"N": str(int(now))}}
        if owner:
            values[":me"] = {"S": owner}
        try:
            old = self._call(
                "put_item",
                Item=item,
                ConditionExpression=f"attribute_not_exists(pk) OR (#s = :started AND ({takeover}))",
                ExpressionAttributeNames={"#s": "status", **({"#o": "owner"} if owner else {})},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ).get("Attributes")
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            old = self._seen(exc, key)
            return Claim(
                outcome="duplicate",
                status=_s(old, "status"),
                incident_id=_s(old, "incident_id"),
                ticket_id=_s(old, "ticket_id"),
            )
        return Claim(outcome="taken_over" if old else "claimed", token=token)

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

    def release_delivery(self, facts: AlarmFacts, token: str) -> None:
        """Forget our claim whose investigation failed, so a retry can run it (best effort; never
        someone else's claim that took ours over)."""
        with contextlib.suppress(Exception):  # the lease expiry is the safety net
            self._call(
                "delete_item",
                Key={"pk": self._pk(facts), "sk": {"S": f"delivery#{facts.state_timestamp}"}},
                ConditionExpression="#s = :started AND #t = :token",
                ExpressionAttributeNames={"#s": "status", "#t": "token"},
                ExpressionAttributeValues={":started": {"S": "started"}, ":token": {"S": token}},
            )

    # --- flapping -----------------------------------------------------------------------------

    def open_or_join(
        self, facts: AlarmFacts, *, window_minutes: int, ttl_hours: int, lease_seconds: int = 900
    ) -> IncidentSlot:
        """Lead a new incident, or join the open one when the last ALARM is within the window.
        ``lease_seconds``: how long the lead may take to file its ticket (its invocation's time)."""
        key = {"pk": self._pk(facts), "sk": {"S": "incident"}}
        at_ms = int(facts.state_time.timestamp() * 1000)
        if window_minutes <= 0:
            return IncidentSlot(role="lead", incident_id=facts.incident_id, opened_ms=at_ms)
        cutoff = at_ms - window_minutes * 60_000
        now = self.clock()
        expires = int(now + max(ttl_hours * 3600, window_minutes * 60 * 2))
        lead_until = {"N": str(int(now + lease_seconds))}
        try:
            self._call(
                "put_item",
                Item={
                    **key,
                    "incident_id": {"S": facts.incident_id},
                    "opened_ms": {"N": str(at_ms)},
                    "last_alarm_ms": {"N": str(at_ms)},
                    "alarm_count": {"N": "1"},
                    "lead_until": lead_until,
                    "expires_at": {"N": str(expires)},
                },
                ConditionExpression="attribute_not_exists(pk) OR last_alarm_ms < :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": str(cutoff)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return IncidentSlot(role="lead", incident_id=facts.incident_id, opened_ms=at_ms)
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            old = self._seen(exc, key)
        if _s(old, "incident_id") == facts.incident_id:
            # Our own incident: an earlier attempt at this transition died before finishing. Lead it
            # again (joining it would comment on a ticket that may not exist, and nobody would investigate).
            with contextlib.suppress(Exception):  # best effort: the lease only guards against orphans
                self._call(
                    "update_item",
                    Key=key,
                    UpdateExpression="SET lead_until = :l",
                    ConditionExpression="incident_id = :i",
                    ExpressionAttributeValues={":l": lead_until, ":i": {"S": facts.incident_id}},
                )
            return IncidentSlot(
                role="lead",
                incident_id=facts.incident_id,
                ticket_id=_s(old, "ticket_id"),
                opened_ms=int(_n(old, "opened_ms") or at_ms),
            )
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
        ticket_id = _s(attrs, "ticket_id")
        return IncidentSlot(
            role="join",
            incident_id=_s(attrs, "incident_id") or facts.incident_id,
            ticket_id=ticket_id,
            alarm_count=int(_n(attrs, "alarm_count") or 1),
            opened_ms=int(_n(attrs, "opened_ms") or 0),
            orphaned=not ticket_id and float(_n(attrs, "lead_until") or 0) < now,
        )

    def replace_incident(
        self, facts: AlarmFacts, *, stale_incident_id: str, ttl_hours: int, lease_seconds: int = 900
    ) -> bool:
        """Take the incident slot over from a closed (or orphaned) incident; False if someone else
        already did."""
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
                    "lead_until": {"N": str(int(self.clock() + lease_seconds))},
                    "expires_at": {"N": str(int(self.clock() + ttl_hours * 3600))},
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


def _s(item: dict, name: str) -> str | None:
    return item.get(name, {}).get("S")


def _n(item: dict, name: str) -> str | None:
    return item.get(name, {}).get("N")
