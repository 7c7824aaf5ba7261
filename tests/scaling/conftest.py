"""Fixtures for the scaling tests: moto tables, an atomic DynamoDB client, a controllable clock."""

from __future__ import annotations

import threading

import pytest

AUDIT_TABLE = "opsagent-audit"
STATE_TABLE = "opsagent-state"


class AtomicClient:
    """moto's DynamoDB evaluates a condition and writes without a lock, so under threads two
    conditional writes can both pass, which real DynamoDB never allows. Serialising each API call
    restores DynamoDB's per-request atomicity; interleavings *between* calls (what the code under
    test must survive) are untouched."""

    def __init__(self, real):
        self._real = real
        self._lock = threading.Lock()
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr) or name in ("get_waiter", "get_paginator"):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                self.calls.append(name)
                return attr(*args, **kwargs)

        return call


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ddb(aws, monkeypatch):
    """Both tables created in moto; every opsagent module that asks for a DynamoDB client gets the
    atomic wrapper; OPSAGENT_AUDIT_TABLE / OPSAGENT_STATE_TABLE point at them."""
    from opsagent import audit, state
    from opsagent.aws import client

    atomic = AtomicClient(client("dynamodb"))
    audit.create_table(AUDIT_TABLE, dynamodb=atomic)
    state.create_table(STATE_TABLE, dynamodb=atomic)
    monkeypatch.setattr(state, "client", lambda service, region=None: atomic)
    monkeypatch.setattr(audit, "client", lambda service, region=None: atomic)
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("OPSAGENT_STATE_TABLE", STATE_TABLE)
    return atomic
