"""Faults that happen *after* the emulator applied a write: the partial failures a real API server
(or the network between it and the Lambda) produces and a client cannot tell from "not applied".

The emulator's own ``inject(...)`` faults answer *instead of* handling the request (nothing is
applied). These answer after :meth:`KubeEmulator.handle` has changed the cluster::

    from opsagent_sim import faults

    f = faults.after_apply(kube, "PATCH", r"/deployments/checkout/scale$", mode="drop")
    # the PATCH lands, then the connection is closed without a response
    faults.after_apply(kube, "PATCH", r"/scale$", mode="status", status=500)   # lands, then 500
    faults.after_apply(kube, "PATCH", r"/scale$", mode="stall", stall=2.0)     # lands, answer late
    f.applied.wait(5)   # set once the write has landed (a test can kill the caller then)

``mode="stall"`` sleeps ``stall`` seconds before answering the real response, so a client whose
read timeout is shorter gives up although the change is made. ``stall`` may be ``None``: hold the
answer until :meth:`AfterApply.release` (for a test that kills the caller mid-request).

The emulator calls :func:`deliver` from its request handler (one line); nothing else here
touches its internals.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["drop", "status", "stall"]


@dataclass
class AfterApply:
    method: str
    path: str
    mode: Mode = "drop"
    status: int = 500
    stall: float | None = 2.0
    times: int | None = 1
    hits: int = 0
    applied: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event, repr=False)
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("drop", "status", "stall"):
            raise ValueError(f"mode must be drop, status or stall, not {self.mode!r}")
        self.method = self.method.upper()
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method in ("*", method) and bool(self._regex.search(path))

    def release(self) -> None:
        """Let a held (``stall=None``) answer go."""
        self._release.set()


def after_apply(
    emulator: Any,
    method: str,
    path: str,
    *,
    mode: Mode = "drop",
    status: int = 500,
    stall: float | None = 2.0,
    times: int | None = 1,
) -> AfterApply:
    """Register a fault that fires once a matching request was handled *successfully* (2xx)."""
    fault = AfterApply(method=method, path=path, mode=mode, status=status, stall=stall, times=times)
    with emulator._lock:
        emulator.__dict__.setdefault("after_apply_faults", []).append(fault)
    return fault


def clear(emulator: Any) -> None:
    with emulator._lock:
        for fault in emulator.__dict__.get("after_apply_faults", []):
            fault.release()
        emulator.__dict__["after_apply_faults"] = []


def _take(emulator: Any, method: str, path: str) -> AfterApply | None:
    with emulator._lock:
        for fault in emulator.__dict__.get("after_apply_faults", []):
            if fault.matches(method, path):
                fault.hits += 1
                return fault
    return None


def deliver(emulator: Any, handler: Any, record: Any, status: int, ctype: str, payload: bytes) -> bool:
    """Called by the emulator after handling a request. True when a fault answered it (or chose not
    to): the handler must then send nothing more."""
    if not 200 <= status < 300:
        return False
    fault = _take(emulator, handler.command, record.path)
    if fault is None:
        return False
    record.fault = True
    fault.applied.set()
    if fault.mode == "drop":
        record.status = 0
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        return True
    if fault.mode == "status":
        from opsagent_sim.k8s.api.errors import status_object
        from opsagent_sim.k8s.api.routes import dumps

        body = dumps(status_object(fault.status, f"injected after apply: HTTP {fault.status}"))
        handler._send(fault.status, "application/json", body, record)
        return True
    if fault.stall is None:
        fault._release.wait(60)
    else:
        time.sleep(fault.stall)
    handler.close_connection = True
    handler._send(status, ctype, payload, record)
    return True
