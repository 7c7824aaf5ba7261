"""Deterministic container logs for pods the scenario gave none."""

from __future__ import annotations

import random
from datetime import timedelta

from opsagent_sim.k8s.model.objects import ts
from opsagent_sim.k8s.model.store import ClusterState


def synth_logs(state: ClusterState, ns: str, pod: str, container: str, previous: bool) -> str:
    """Deterministic logs for pods the scenario gave none: access lines, and a crash at the end
    of the previous instance for crashing/OOM-killed pods."""
    spec = state.pod_specs.get((ns, pod), {})
    status = spec.get("state", "running")
    rng = random.Random(f"{ns}/{pod}/{container}/{previous}")
    base = state.now - timedelta(minutes=30)
    lines = [
        f"{ts(base)} INFO  starting {container} (image {spec.get('image', '?')})",
        f"{ts(base)} INFO  listening on :8080",
    ]
    paths = ["/api/cart", "/api/checkout", "/healthz", "/api/items", "/api/orders"]
    for i in range(40):
        when = base + timedelta(seconds=30 * i + rng.randrange(30))
        code = rng.choice([200] * 12 + [201, 404, 500, 503])
        lines.append(
            f"{ts(when)} INFO  {rng.choice(['GET', 'POST'])} {rng.choice(paths)} {code} "
            f"{rng.randrange(3, 900)}ms"
        )
    if previous and status == "oomkilled":
        lines.append(f"{ts(state.now - timedelta(minutes=2))} WARN  heap usage 97% of limit")
        lines.append('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space')
    elif previous and status == "crashloop":
        lines.append(
            f"{ts(state.now - timedelta(minutes=2))} ERROR fatal: cannot connect to database: "
            "connection refused"
        )
    return "\n".join(lines) + "\n"
