"""The key schemas of OpsAgent's DynamoDB tables, declared once. Pure data (no boto3): infra
(``infra/opsagent_infra/constructs/data.py``), the simulators and the tests read it, and
:func:`create_table` makes a table from it for tests and the offline drill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableSchema:
    hash_key: str
    range_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()

    @property
    def key_attributes(self) -> tuple[str, ...]:
        """Every attribute a key (table or index) uses; all are strings (S)."""
        names = {self.hash_key, *([self.range_key] if self.range_key else [])}
        for ix in self.indexes:
            names |= {ix.hash_key, *([ix.range_key] if ix.range_key else [])}
        return tuple(sorted(names))


#: Audit trail: one item per decision; ``sk`` = ``<at>#<ulid>`` (time order within an incident).
AUDIT = TableSchema(hash_key="incident_id", range_key="sk", ttl_attribute="expires_at")
#: State: idempotency records, cooldown windows, incident budgets, alarm deliveries/incidents.
STATE = TableSchema(hash_key="pk", range_key="sk", ttl_attribute="expires_at")
#: Tickets (the DynamoDB backend): tickets, comments and fingerprint locks.
TICKETS = TableSchema(
    hash_key="ticket_id",
    indexes=(Index("by_fingerprint", "fingerprint"), Index("by_service", "service", "created_at")),
)


def _keys(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def create_table(schema: TableSchema, table_name: str, dynamodb: Any) -> None:
    """Create ``table_name`` with ``schema`` through a DynamoDB client (tests, the offline drill;
    infra creates the real tables from the same schema)."""
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": _keys(schema.hash_key, schema.range_key),
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in schema.key_attributes],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if schema.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": ix.name,
                "KeySchema": _keys(ix.hash_key, ix.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for ix in schema.indexes
        ]
    dynamodb.create_table(**kwargs)
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    if schema.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute},
        )
