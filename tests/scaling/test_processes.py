"""scaleDeployment in separate processes (one per Lambda container) sharing one DynamoDB (a moto
server answering one request at a time, as atomic per request as DynamoDB) and one emulator.

* a process killed between the PATCH (landed) and its audit/state writes, then the retry;
* concurrent identical and different requests through the handler, not domain calls in threads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from opsagent_sim import faults

from .conftest import AUDIT_TABLE, SHOP_POLICY, STATE_TABLE
from .test_scale_handler import INCIDENT, scale_event

CHILD = Path(__file__).with_name("scale_child.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dynamodb_server():
    """moto's DynamoDB over HTTP on 127.0.0.1, single-threaded (one request at a time)."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    import urllib.request

    import boto3

    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST")).read()
    ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    from opsagent import audit, state

    audit.create_table(AUDIT_TABLE, dynamodb=ddb)
    state.create_table(STATE_TABLE, dynamodb=ddb)
    yield url, ddb
    server.shutdown()


@pytest.fixture
def env(dynamodb_server, kube):
    url, _ = dynamodb_server
    e = {
        **os.environ,
        **kube.env(),
        "AWS_ENDPOINT_URL": url,
        "OPSAGENT_AUDIT_TABLE": AUDIT_TABLE,
        "OPSAGENT_STATE_TABLE": STATE_TABLE,
        "OPSAGENT_POLICY": json.dumps(SHOP_POLICY),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT / "tests")]),
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
    e.pop("OPSAGENT_ALLOWED_NAMESPACES", None)
    return e


def spawn(env, tmp_path, event, offset=0.0, name="event"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(event))
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(offset)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, err[-2000:]
    doc = json.loads(lines[-1][len("RESULT ") :])
    return doc["status"], doc["body"]


def trail(ddb):
    from opsagent.audit import AuditTrail

    return AuditTrail(AUDIT_TABLE, dynamodb=ddb).for_incident(INCIDENT)


def usage(ddb):
    from opsagent.state import StateStore

    snap = StateStore(STATE_TABLE, dynamodb=ddb).usage("scale#shop/checkout", 3600, INCIDENT)
    return snap.window_used, snap.budget_used


def test_killed_between_the_patch_and_the_audit_write_then_the_retry(env, kube, dynamodb_server, tmp_path):
    _, ddb = dynamodb_server
    held = faults.after_apply(kube, "PATCH", r"/deployments/checkout/scale$", mode="stall", stall=None)
    first = spawn(env, tmp_path, scale_event(replicas="5"))
    try:
        assert held.applied.wait(30), "the PATCH never reached the emulator"
        assert kube.state.replicas("shop", "checkout") == 5  # landed
        os.kill(first.pid, signal.SIGKILL)  # the container dies before its audit/state writes
        first.wait(10)
    finally:
        held.release()
    assert [r.decision for r in trail(ddb)] == []  # nothing recorded: the defect's starting point
    # The retry, once the dead attempt's 60 s lease is over (the child's clock runs 61 s ahead).
    status, body = result(spawn(env, tmp_path, scale_event(replicas="5"), offset=61, name="retry"))
    assert status == 200, body
    assert body["outcome"] == "applied" and body["before_replicas"] == 3
    assert body["undo"]["replicas"] == 3  # not "already at 5; nothing changed" without an undo
    assert len(kube.requests_matching("PATCH")) == 1
    applied = [r for r in trail(ddb) if r.decision == "applied"]
    assert len(applied) == 1 and "replicas=3" in (applied[0].undo or "")
    assert usage(ddb) == (1, 1)
    # and the next identical retry replays it
    status, body = result(spawn(env, tmp_path, scale_event(replicas="5"), offset=61, name="again"))
    assert status == 200 and body["replayed"] is True and len(kube.requests_matching("PATCH")) == 1


def test_concurrent_handlers_in_separate_processes(env, kube, dynamodb_server, tmp_path):
    """Four containers at once: two identical requests (to 5) and two others (6, 7). The cooldown
    allows 3 operations per hour: at most 3 PATCHes land, the identical pair changes once."""
    _, ddb = dynamodb_server
    procs = [
        spawn(env, tmp_path, scale_event(replicas=str(n)), name=f"p{i}") for i, n in enumerate((5, 5, 6, 7))
    ]
    outcomes = [result(p, timeout=120) for p in procs]
    statuses = [s for s, _ in outcomes]
    assert all(s in (200, 403, 409) for s in statuses), outcomes
    applied = [b for s, b in outcomes if s == 200 and b.get("outcome") == "applied" and not b.get("replayed")]
    patches = [r for r in kube.requests_matching("PATCH") if r.status == 200]
    assert len(patches) == len(applied) <= 3
    assert usage(ddb)[0] == len(applied)
    assert len([r for r in trail(ddb) if r.decision == "applied"]) == len(applied)
    # The identical pair changes once, unless another request moved the Deployment in between (then the
    # second "to 5" is a real change back from 6 or 7): no two landed PATCHes in a row set the same count.
    landed = [(r.body or {}).get("spec", {}).get("replicas") for r in patches]
    assert all(a != b for a, b in zip(landed, landed[1:], strict=False)), landed
    fives = [b for s, b in outcomes[:2] if s == 200 and b.get("requested_replicas") == 5]
    assert sum(1 for b in fives if b.get("outcome") == "applied" and not b.get("replayed")) == landed.count(5)
