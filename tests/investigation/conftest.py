"""Fakes for the investigation tests: ticket sink, tool dispatch, agent sessions; moto tables."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from opsagent.context import CallContext
from opsagent.investigation.config import TriggerSettings
from opsagent.investigation.rca import RcaReport
from support import load_event

STATE_TABLE = "opsagent-state-test"
AUDIT_TABLE = "opsagent-audit-test"


@dataclass
class FakeTickets:
    """Records what the trigger files; ``closed`` ids report as closed."""

    created: list[tuple[RcaReport, CallContext]] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)
    fail: Exception | None = None

    def create(self, report: RcaReport, ctx: CallContext) -> tuple[str, str, bool]:
        if self.fail:
            raise self.fail
        self.created.append((report, ctx))
        tid = f"OPS-{len(self.created)}"
        return tid, f"https://tickets.example/{tid}", False

    def comment(self, ticket_id: str, text: str, ctx: CallContext) -> None:
        self.comments.append((ticket_id, text))

    def is_open(self, ticket_id: str, fingerprint: str, ctx: CallContext) -> bool | None:
        return ticket_id not in self.closed


def envelope(event: dict, status: int, body: Any) -> dict:
    return {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": event["actionGroup"],
            "apiPath": event["apiPath"],
            "httpMethod": event["httpMethod"],
            "httpStatusCode": status,
            "responseBody": {"application/json": {"body": json.dumps(body)}},
        },
    }


@dataclass
class FakeDispatch:
    """Canned tool bodies per operation (by apiPath); records every event it receives."""

    bodies: dict[str, tuple[int, Any]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    def __call__(self, group: str, event: dict, context: Any) -> dict:
        self.events.append(copy.deepcopy(event))
        status, body = self.bodies.get(event["apiPath"], (200, {"ok": True}))
        return envelope(event, status, body)

    def operations(self) -> list[str]:
        from opsagent.investigation.operations import spec_for_route

        return [spec_for_route(e["actionGroup"], e["apiPath"]).operation_id for e in self.events]


OOM_PODS = {
    "namespace": "shop",
    "pods": [
        {
            "name": "cart-7d9f-abcde",
            "phase": "Running",
            "ready": False,
            "restarts": 7,
            "containers": [
                {
                    "name": "cart",
                    "state": "waiting",
                    "reason": "CrashLoopBackOff",
                    "last_termination": {"reason": "OOMKilled", "exit_code": 137},
                }
            ],
        }
    ],
}


@pytest.fixture
def alarm():
    """A fresh copy of a sample alarm event by short name (single-metric, metric-math, composite)."""

    def _load(kind: str = "single-metric") -> dict:
        return copy.deepcopy(load_event(f"alarm-{kind}"))

    return _load


@pytest.fixture
def tables(aws, monkeypatch):
    from opsagent.audit import create_table as create_audit
    from opsagent.state import create_table as create_state_table

    create_state_table(STATE_TABLE)
    create_audit(AUDIT_TABLE)
    monkeypatch.setenv("OPSAGENT_STATE_TABLE", STATE_TABLE)
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", AUDIT_TABLE)
    return STATE_TABLE, AUDIT_TABLE


@pytest.fixture
def settings_factory(monkeypatch):
    def _make(**trigger: Any) -> TriggerSettings:
        env = {"OPSAGENT_STATE_TABLE": STATE_TABLE, "OPSAGENT_TRIGGER": json.dumps(trigger)}
        return TriggerSettings.from_env(env)

    return _make


def retime(event: dict, minutes: float) -> dict:
    """The same alarm, its state change ``minutes`` later (CloudWatch's timestamp format)."""
    from opsagent.investigation.alarm import parse_timestamp

    t = parse_timestamp(event["detail"]["state"]["timestamp"]) + timedelta(minutes=minutes)
    event["detail"]["state"]["timestamp"] = (
        t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"
    )
    return event
