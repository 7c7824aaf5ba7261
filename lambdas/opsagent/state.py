"""The state table: idempotency records, rolling-window counters, incident budgets, one-shot claims.

Every limit here is enforced by DynamoDB conditional writes, so two concurrent invocations (two
Lambda containers, a retry racing the original, the console and an alarm at once) cannot both
pass it. Table keys (created by infra, see CONTRACTS.md): ``pk`` (S), ``sk`` (S), TTL ``expires_at``.

Items (all strings are prefixes of ``pk``; ``sk`` says what the item is):

* ``idem#<scope>#<sha256>`` / ``idem`` - one idempotency record: status IN_PROGRESS (with a lease
  ``in_progress_until``) or COMPLETED (with the JSON ``response``); ``token`` identifies the
  holder. See :meth:`StateStore.idem_begin`.
* ``window#<scope>`` / ``window`` - a rolling window: map ``ops`` {reservation id: epoch seconds}
  plus ``version`` (optimistic lock). Entries older than the window are pruned on every write,
  except the newest ``limit`` ones (all a decision needs), so a writer with a fast clock cannot
  erase the history writers with a correct clock still count. Times are the writers' clocks
  (Lambda's are NTP-synced); a writer with a slow clock stamps its own entry in the past.
* ``budget#<incident>`` / ``mutations`` - an incident budget: map ``ops`` {reservation id: entry};
  the limit is enforced with ``size(ops) < :limit``.
* anything else via :meth:`StateStore.claim` (e.g. the trigger's ``alarm#<arn>`` de-duplication).

Quota is **reserved before** the change and **released** if the change is not applied (refused on
re-check, conflict, upstream error). Committing after success instead would let two concurrent
calls both pass the check and both apply. The cost of reserve-first: a crash between reserve and
release leaks one reservation, which errs on the safe side (one fewer operation allowed until
the window passes or the incident ends).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsagent.aws import client
from opsagent.errors import ConfigurationError, Conflict, UpstreamUnavailable

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
DEFAULT_BUDGET_TTL_SECONDS = 30 * 86400
_RESERVE_ATTEMPTS = 8


class StateSettings(BaseModel):
    state_table: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")


class ContentionError(Conflict):
    """Too many concurrent writers on one counter; retrying shortly helps."""

    retryable = True


@dataclass(frozen=True)
class IdemOutcome:
    """Result of :meth:`StateStore.idem_begin`."""

    state: Literal["acquired", "completed", "in_progress"]
    token: str | None = None  # acquired: our token; completed: the token of the record
    response: str | None = None  # completed: the stored JSON
    in_progress_until: float | None = None
    # acquired by taking over an expired attempt: the intent that attempt wrote before its change
    # (see :meth:`StateStore.idem_intent`), so the new holder can tell whether it landed
    previous_intent: str | None = None


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    window_pk: str
    budget_pk: str | None


@dataclass
class UsageSnapshot:
    """What the counters held when they were read or when a reservation was refused."""

    window_used: int = 0
    window_next_at: float | None = None  # epoch seconds when the oldest entry leaves the window
    budget_used: int = 0
    refused: Literal["window", "budget"] | None = None
    reservation: Reservation | None = None
    window_entries: list[float] = field(default_factory=list)


def _is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def _cancel_reasons(exc: Exception) -> list[str] | None:
    response = getattr(exc, "response", {})
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [r.get("Code", "None") for r in response.get("CancellationReasons", [])]


def digest(*parts: Any) -> str:
    """A stable key from request parts (order matters)."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class StateStore:
    def __init__(
        self, table_name: str, *, dynamodb: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        if not table_name:
            raise ConfigurationError("state table name is empty", variable="OPSAGENT_STATE_TABLE")
        self.table_name = table_name
        self._ddb = dynamodb
        self.clock = clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> StateStore:
        from opsagent.settings import load_settings

        return cls(load_settings(StateSettings, environ).state_table, **kwargs)

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.ddb, op)(TableName=self.table_name, **kwargs)
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise
            raise UpstreamUnavailable(
                f"state table {op} failed: {type(exc).__name__}", dependency="dynamodb:state"
            ) from exc

    def _write(self, op: str, **kwargs: Any) -> bool:
        """A conditional write: True if applied, False if its condition failed."""
        try:
            self._call(op, **kwargs)
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self._call("get_item", Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")

    # --- one-shot claims ------------------------------------------------------------------------

    def claim(
        self, pk: str, sk: str, *, ttl_seconds: int, attributes: Mapping[str, str] | None = None
    ) -> bool:
        """Create ``pk/sk`` unless it exists (and has not expired): True for the first caller only."""
        now = self.clock()
        item = {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "expires_at": {"N": str(int(now + ttl_seconds))},
            **{k: {"S": str(v)} for k, v in (attributes or {}).items()},
        }
        return self._write(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )

    # --- idempotency ----------------------------------------------------------------------------

    @staticmethod
    def idem_pk(scope: str, key: str) -> str:
        return f"idem#{scope}#{key}"

    def idem_begin(
        self,
        scope: str,
        key: str,
        *,
        lease_seconds: float,
        ttl_seconds: int,
        take_over_token: str | None = None,
        description: str = "",
    ) -> IdemOutcome:
        """Try to become the one invocation executing ``key``.

        ``acquired``: go ahead, then :meth:`idem_complete` or :meth:`idem_abandon` with the token.
        ``completed``: someone finished it; ``response`` is what they returned.
        ``in_progress``: someone holds an unexpired lease.
        An expired lease or an expired record is taken over; a completed record is taken over only
        when ``take_over_token`` equals its token (the caller decided its result no longer holds).
        """
        pk = self.idem_pk(scope, key)
        for _ in range(3):
            now = self.clock()
            token = uuid.uuid4().hex
            condition = (
                "attribute_not_exists(pk) OR expires_at < :now OR (#s = :inprog AND in_progress_until < :now)"
            )
            values: dict[str, Any] = {":now": {"N": repr(now)}, ":inprog": {"S": IN_PROGRESS}}
            if take_over_token:
                condition += " OR (#s = :done AND #t = :seen)"
                values.update({":done": {"S": COMPLETED}, ":seen": {"S": take_over_token}})
            try:
                old = (
                    self._call(
                        "put_item",
                        Item={
                            "pk": {"S": pk},
                            "sk": {"S": "idem"},
                            "status": {"S": IN_PROGRESS},
                            "token": {"S": token},
                            "in_progress_until": {"N": repr(now + lease_seconds)},
                            "expires_at": {"N": str(int(now + ttl_seconds))},
                            "description": {"S": description[:500]},
                        },
                        ConditionExpression=condition,
                        ExpressionAttributeNames={
                            "#s": "status",
                            **({"#t": "token"} if take_over_token else {}),
                        },
                        ExpressionAttributeValues=values,
                        ReturnValues="ALL_OLD",
                    ).get("Attributes")
                    or {}
                )
            except Exception as exc:
                if not _is_conditional_failure(exc):
                    raise
            else:
                intent = None
                if old.get("status", {}).get("S") == IN_PROGRESS and "intent" in old:
                    intent = old["intent"]["S"]  # an attempt that died (or gave up) after its intent
                return IdemOutcome("acquired", token=token, previous_intent=intent)
            item = self._get(pk, "idem")
            if item is None:
                continue  # abandoned in between: try again
            if item["status"]["S"] == COMPLETED:
                return IdemOutcome("completed", token=item["token"]["S"], response=item["response"]["S"])
            return IdemOutcome("in_progress", in_progress_until=float(item["in_progress_until"]["N"]))
        raise ContentionError("could not take the idempotency record; retry", dependency="dynamodb:state")

    def idem_complete(self, scope: str, key: str, token: str, response: str, *, ttl_seconds: int) -> bool:
        """Store the response under our lease. False if the lease was lost (taken over)."""
        return self._write(
            "update_item",
            Key={"pk": {"S": self.idem_pk(scope, key)}, "sk": {"S": "idem"}},
            UpdateExpression="SET #s = :done, #r = :resp, expires_at = :exp REMOVE in_progress_until, intent",
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#s": "status", "#r": "response", "#t": "token"},
            ExpressionAttributeValues={
                ":done": {"S": COMPLETED},
                ":resp": {"S": response},
                ":exp": {"N": str(int(self.clock() + ttl_seconds))},
                ":token": {"S": token},
            },
        )

    def idem_intent(self, scope: str, key: str, token: str, intent: str) -> bool:
        """Store what we are about to change (JSON: before, target, undo, reservation) under our
        lease, *before* changing it. False if the lease was lost. A holder that dies after the change
        leaves it for the next holder (:attr:`IdemOutcome.previous_intent`)."""
        return self._write(
            "update_item",
            Key={"pk": {"S": self.idem_pk(scope, key)}, "sk": {"S": "idem"}},
            UpdateExpression="SET intent = :intent",
            ConditionExpression="#t = :token AND #s = :inprog",
            ExpressionAttributeNames={"#t": "token", "#s": "status"},
            ExpressionAttributeValues={
                ":intent": {"S": intent},
                ":token": {"S": token},
                ":inprog": {"S": IN_PROGRESS},
            },
        )

    def idem_yield(self, scope: str, key: str, token: str) -> None:
        """End our lease now but keep the record and its intent: the outcome is unknown, and the
        next identical request takes over at once and reconciles from the intent."""
        self._write(
            "update_item",
            Key={"pk": {"S": self.idem_pk(scope, key)}, "sk": {"S": "idem"}},
            UpdateExpression="SET in_progress_until = :zero",
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":zero": {"N": "0"}, ":token": {"S": token}},
        )

    def idem_abandon(self, scope: str, key: str, token: str) -> None:
        """Drop our record (the operation did not complete), so a retry runs it again."""
        self._write(
            "delete_item",
            Key={"pk": {"S": self.idem_pk(scope, key)}, "sk": {"S": "idem"}},
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":token": {"S": token}},
        )

    # --- rolling window + incident budget -------------------------------------------------------

    @staticmethod
    def window_pk(scope: str) -> str:
        return f"window#{scope}"

    @staticmethod
    def budget_pk(incident_id: str) -> str:
        return f"budget#{incident_id}"

    def usage(self, window_scope: str, window_seconds: float, incident_id: str | None) -> UsageSnapshot:
        """Read the counters (no write)."""
        now = self.clock()
        window = self._get(self.window_pk(window_scope), "window")
        active = sorted(
            float(v["N"])
            for v in ((window or {}).get("ops", {}).get("M", {})).values()
            if float(v["N"]) > now - window_seconds
        )
        budget = self._get(self.budget_pk(incident_id), "mutations") if incident_id else None
        return UsageSnapshot(
            window_used=len(active),
            window_next_at=(active[0] + window_seconds) if active else None,
            budget_used=len((budget or {}).get("ops", {}).get("M", {})),
            window_entries=active,
        )

    def reserve(
        self,
        *,
        window_scope: str,
        window_limit: int,
        window_seconds: float,
        incident_id: str | None,
        budget_limit: int | None,
        entry: Mapping[str, str] | None = None,
        budget_ttl_seconds: int = DEFAULT_BUDGET_TTL_SECONDS,
    ) -> UsageSnapshot:
        """Take one slot in the window and one unit of the incident budget, atomically (one
        transaction: both or neither). Returns the snapshot with ``reservation`` set on success, or
        with ``refused`` = "window"/"budget" when a limit is reached (nothing consumed)."""
        wpk = self.window_pk(window_scope)
        bpk = self.budget_pk(incident_id) if incident_id and budget_limit is not None else None
        rid = uuid.uuid4().hex
        for attempt in range(_RESERVE_ATTEMPTS):
            now = self.clock()
            window_item = self._get(wpk, "window")
            ops = {k: float(v["N"]) for k, v in ((window_item or {}).get("ops", {}).get("M", {})).items()}
            active = {k: t for k, t in ops.items() if t > now - window_seconds}
            budget_item = self._get(bpk, "mutations") if bpk else None
            budget_ops = (budget_item or {}).get("ops", {}).get("M", {})
            snapshot = UsageSnapshot(
                window_used=len(active),
                window_next_at=(min(active.values()) + window_seconds) if active else None,
                budget_used=len(budget_ops),
                window_entries=sorted(active.values()),
            )
            if len(active) >= window_limit:
                snapshot.refused = "window"
                return snapshot
            if bpk and budget_limit is not None and len(budget_ops) >= budget_limit:
                snapshot.refused = "budget"
                return snapshot

            # Prune what has left the window, but never the newest `window_limit` entries: a writer
            # whose clock runs ahead would otherwise erase history the others still count.
            newest = dict(sorted(ops.items(), key=lambda kv: kv[1], reverse=True)[:window_limit])
            new_ops = {**newest, **active, rid: now}
            version = int((window_item or {}).get("version", {}).get("N", "0"))
            window_update: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": {"pk": {"S": wpk}, "sk": {"S": "window"}},
                "UpdateExpression": "SET ops = :ops, version = :v1, expires_at = :exp",
                "ExpressionAttributeValues": {
                    ":ops": {"M": {k: {"N": repr(t)} for k, t in new_ops.items()}},
                    ":v1": {"N": str(version + 1)},
                    ":exp": {"N": str(int(max(new_ops.values()) + window_seconds + 3600))},
                },
            }
            if window_item is None:
                window_update["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                window_update["ConditionExpression"] = "version = :v0"
                window_update["ExpressionAttributeValues"][":v0"] = {"N": str(version)}
            items: list[dict[str, Any]] = [{"Update": window_update}]
            if bpk:
                value = {
                    "M": {"at": {"N": repr(now)}, **{k: {"S": str(v)} for k, v in (entry or {}).items()}}
                }
                exp = {"N": str(int(now + budget_ttl_seconds))}
                if budget_item is None:
                    budget_update = {
                        "UpdateExpression": "SET ops = :ops, expires_at = :exp",
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":ops": {"M": {rid: value}}, ":exp": exp},
                    }
                else:
                    budget_update = {
                        "UpdateExpression": "SET ops.#rid = :entry, expires_at = :exp",
                        "ConditionExpression": "size(ops) < :limit",
                        "ExpressionAttributeNames": {"#rid": rid},
                        "ExpressionAttributeValues": {
                            ":entry": value,
                            ":exp": exp,
                            ":limit": {"N": str(budget_limit)},
                        },
                    }
                items.append(
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {"pk": {"S": bpk}, "sk": {"S": "mutations"}},
                            **budget_update,
                        }
                    }
                )
            try:
                self.ddb.transact_write_items(TransactItems=items)
            except Exception as exc:
                reasons = _cancel_reasons(exc)
                if reasons is None or any(r not in ("None", "ConditionalCheckFailed") for r in reasons):
                    if reasons is not None and "TransactionConflict" in reasons:
                        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                        continue
                    raise UpstreamUnavailable(
                        f"state table transaction failed: {type(exc).__name__}", dependency="dynamodb:state"
                    ) from exc
                # Someone changed a counter between our read and write: read again and re-decide.
                time.sleep(random.uniform(0.0, 0.02) * (attempt + 1))
                continue
            snapshot.window_used += 1
            snapshot.window_entries = sorted([*snapshot.window_entries, now])
            snapshot.window_next_at = snapshot.window_entries[0] + window_seconds
            snapshot.budget_used += 1 if bpk else 0
            snapshot.reservation = Reservation(rid, wpk, bpk)
            return snapshot
        raise ContentionError(
            "too many concurrent changes to the same counters; retry in a few seconds",
            dependency="dynamodb:state",
        )

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back (the change was not applied). Bumps the window's version so a
        concurrent writer holding an older copy of the map cannot put the entry back. A missing
        item is fine (expired); other errors raise UpstreamUnavailable."""
        updates: list[dict[str, Any]] = [
            {
                "Key": {"pk": {"S": reservation.window_pk}, "sk": {"S": "window"}},
                "UpdateExpression": "REMOVE ops.#rid SET version = version + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        ]
        if reservation.budget_pk:
            updates.append(
                {
                    "Key": {"pk": {"S": reservation.budget_pk}, "sk": {"S": "mutations"}},
                    "UpdateExpression": "REMOVE ops.#rid",
                }
            )
        for update in updates:
            self._write(
                "update_item",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#rid": reservation.reservation_id},
                **update,
            )


def create_table(table_name: str, *, dynamodb: Any = None, hash_key: str = "pk") -> None:
    """Create the state table (or, with ``hash_key="incident_id"``, the audit table) from the key
    schemas in :mod:`opsagent.dynamo.tables` (tests, the offline drill)."""
    from opsagent.dynamo import tables

    schema = tables.AUDIT if hash_key == tables.AUDIT.hash_key else tables.STATE
    tables.create_table(schema, table_name, dynamodb or client("dynamodb"))
