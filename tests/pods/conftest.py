"""Fixtures for the pods tests: the emulator (``kube``, ``kube_factory``) and ``invoke`` (a Bedrock
event through the real Lambda handler, returning (status, body, raw body string))."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsagent_sim.pytest_fixtures import kube, kube_factory, kube_scenario  # noqa: F401
from support import bedrock_event, response_body

LIST = "/namespaces/{namespace}/pods"
DESCRIBE = "/namespaces/{namespace}/pods/{pod}"
LOGS = "/namespaces/{namespace}/pods/{pod}/logs"


@pytest.fixture(autouse=True)
def _no_namespace_allowlist(monkeypatch):
    monkeypatch.delenv("OPSAGENT_ALLOWED_NAMESPACES", raising=False)


@pytest.fixture
def invoke(lambda_context) -> Callable[..., tuple[int, dict, str]]:
    from opsagent.handlers.pods import lambda_handler

    def call(api_path: str, event: dict | None = None, **parameters: str) -> tuple[int, dict, str]:
        event = event or bedrock_event("pods", api_path, "GET", parameters=parameters)
        result = lambda_handler(event, lambda_context)
        resp = result["response"]
        # Bedrock requires the envelope to echo what it sent
        assert (resp["actionGroup"], resp["apiPath"], resp["httpMethod"]) == (
            event["actionGroup"],
            event["apiPath"],
            event["httpMethod"],
        )
        status, body = response_body(result)
        return status, body, resp["responseBody"]["application/json"]["body"]

    return call


@pytest.fixture(scope="module")
def _zoo_server():
    from opsagent_sim.k8s import KubeEmulator
    from pods.scenarios import ZOO

    with KubeEmulator(ZOO) as emulator:
        yield emulator


@pytest.fixture
def zoo(_zoo_server, monkeypatch):
    """The ZOO scenario, started once per module (read-only tests): env pointed at it, request log
    and faults cleared for each test."""
    from opsagent.k8s import reset_kube
    from opsagent_sim.pytest_fixtures import K8S_ENV

    env = _zoo_server.env()
    for key in K8S_ENV:
        if key in env:
            monkeypatch.setenv(key, env[key])
        else:
            monkeypatch.delenv(key, raising=False)
    reset_kube()
    _zoo_server.clear_requests()
    _zoo_server.clear_faults()
    yield _zoo_server
    reset_kube()
