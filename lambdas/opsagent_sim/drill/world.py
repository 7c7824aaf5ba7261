"""The emulated world of one drill: moto (AWS) and the Kubernetes emulator, the environment pointed
at them, the tables created, CloudWatch seeded."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opsagent_sim.drill.alarms import ACCOUNT, REGION, build_alarm_event, seed_cloudwatch
from opsagent_sim.drill.scenario import DrillScenario


@dataclass
class DrillEnv:
    scenario: DrillScenario
    now: datetime
    aws_url: str
    kube: Any
    tables: dict[str, str]


@dataclass
class FakeLambdaContext:
    function_name: str = "opsagent-trigger-drill"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:opsagent-trigger-drill"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Send the Lambda loggers' output (Powertools JSON lines on stdout/stderr) to a buffer while the
    handler runs, so the report reads well; the drill says how many lines there were (--verbose
    prints them)."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler, Any]] = []
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr):
                swapped.append((handler, handler.setStream(buffer)))
    try:
        yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reset_caches() -> None:
    from opsagent.aws import reset_clients
    from opsagent.k8s import reset_kube

    reset_clients()
    reset_kube()
    with contextlib.suppress(ImportError):
        from opsagent.tickets.service import reset_backend

        reset_backend()


def quiet_logging() -> None:
    """The report is the output: no request logs from the emulators, only warnings from OpsAgent."""
    for name in ("werkzeug", "moto", "botocore", "urllib3", "opsagent_sim"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def drill_environment(scenario: DrillScenario, *, now: datetime | None = None) -> Iterator[DrillEnv]:
    """Emulators up, environment pointed at them, tables created, metrics and alarm seeded.
    Restores ``os.environ`` (and the client caches) on exit, so it can run inside tests."""
    from moto.server import ThreadedMotoServer

    from opsagent_sim.k8s import KubeEmulator

    now = (now or datetime.now(UTC)).replace(
        microsecond=(now or datetime.now(UTC)).microsecond // 1000 * 1000
    )
    quiet_logging()
    suffix = uuid.uuid4().hex[:8]
    tables = {
        "state": f"opsagent-drill-state-{suffix}",
        "audit": f"opsagent-drill-audit-{suffix}",
        "tickets": f"opsagent-drill-tickets-{suffix}",
    }
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws_url = f"http://{host}:{port}"
    policy = scenario.policy or {"allowed_namespaces": [scenario.namespace]}
    trigger = {"mutation_mode": "propose", "flap_window_minutes": 30, **scenario.trigger}
    env = {
        "AWS_ACCESS_KEY_ID": "drill",
        "AWS_SECRET_ACCESS_KEY": "drill",
        "AWS_SESSION_TOKEN": "drill",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": aws_url,
        "POWERTOOLS_SERVICE_NAME": "opsagent-drill",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "OpsAgentDrill",
        "OPSAGENT_STATE_TABLE": tables["state"],
        "OPSAGENT_AUDIT_TABLE": tables["audit"],
        "OPSAGENT_TICKETS_TABLE": tables["tickets"],
        "OPSAGENT_CLUSTER_NAME": scenario.cluster,
        "OPSAGENT_ALLOWED_NAMESPACES": scenario.namespace,
        "OPSAGENT_POLICY": json.dumps(policy),
        "OPSAGENT_TRIGGER": json.dumps(trigger),
    }
    removed = ("OPSAGENT_AGENT_ID", "OPSAGENT_AGENT_ALIAS_ID", "OPSAGENT_TICKETS", "AWS_PROFILE")
    saved = {
        k: os.environ.get(k)
        for k in (*env, *removed, "OPSAGENT_K8S_ENDPOINT", "OPSAGENT_K8S_TOKEN", "OPSAGENT_K8S_CA_FILE")
    }
    try:
        os.environ.update(env)
        for key in removed:
            os.environ.pop(key, None)
        _reset_caches()
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST"), timeout=10)
        with KubeEmulator(scenario.k8s_scenario, now=now) as kube:
            os.environ.pop("OPSAGENT_K8S_CA_FILE", None)
            os.environ.update(kube.env())
            os.environ["OPSAGENT_CLUSTER_NAME"] = scenario.cluster  # metrics' ClusterName; the endpoint wins
            _reset_caches()
            _create_tables(tables)
            from opsagent.aws import client

            event_for_seed = build_alarm_event(scenario, now)
            seed_cloudwatch(client("cloudwatch"), scenario, event_for_seed, now)
            yield DrillEnv(scenario=scenario, now=now, aws_url=aws_url, kube=kube, tables=tables)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_caches()
        server.stop()


def _create_tables(tables: dict[str, str]) -> None:
    from opsagent.audit import create_table as create_audit_table
    from opsagent.state import create_table as create_state_table
    from opsagent.tickets.dynamodb import create_table as create_tickets_table

    create_state_table(tables["state"])
    create_audit_table(tables["audit"])
    create_tickets_table(tables["tickets"])
