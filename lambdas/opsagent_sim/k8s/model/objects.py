"""The vocabulary of the emulated cluster: the resource kinds served, timestamps, durations,
deterministic names/uids, quantities, conditions and owner references."""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' SafeEncodeString alphabet

# resource -> (group, version, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "namespaces": ("", "v1", "Namespace", False),
    "nodes": ("", "v1", "Node", False),
    "pods": ("", "v1", "Pod", True),
    "events": ("", "v1", "Event", True),
    "deployments": ("apps", "v1", "Deployment", True),
    "replicasets": ("apps", "v1", "ReplicaSet", True),
    "horizontalpodautoscalers": ("autoscaling", "v2", "HorizontalPodAutoscaler", True),
    "podmetrics": ("metrics.k8s.io", "v1beta1", "PodMetrics", True),
}

POD_STATES = (
    "running",
    "notready",
    "crashloop",
    "oomkilled",
    "imagepullbackoff",
    "errimagepull",
    "containercreating",
    "pending",
    "evicted",
    "completed",
    "terminating",
)
PROBLEM_STATES = ("crashloop", "oomkilled", "imagepullbackoff", "pending", "notready", "evicted")


class ScenarioError(ValueError):
    """The scenario document is malformed (message names the offending entry)."""


def api_version(resource: str) -> str:
    group, version, _, _ = RESOURCES[resource]
    return f"{group}/{version}" if group else version


@functools.lru_cache(maxsize=8192)
def ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``5m``, ``2h``, ``3d``, ``1h30m`` or a number of seconds."""
    if value is None:
        return timedelta(0)
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ScenarioError(f"bad duration {value!r} (use e.g. 90s, 5m, 2h, 3d)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def safe_hash(*parts: Any, length: int = 10) -> str:
    data = _digest(*parts)
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in data[:length])


def det_uid(*parts: Any) -> str:
    h = _digest("uid", *parts).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def cpu_nanocores(value: str) -> str:
    text = str(value)
    millis = float(text[:-1]) if text.endswith("m") else float(text) * 1000
    return f"{int(millis * 1_000_000)}n"


def mem_kibibytes(value: str) -> str:
    text = str(value)
    units = {"Ki": 1, "Mi": 1024, "Gi": 1024 * 1024}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return f"{int(float(text[: -len(suffix)]) * factor)}Ki"
    return f"{int(float(text) / 1024)}Ki"


def owner_name(obj: dict[str, Any]) -> str | None:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return refs[0]["name"] if refs else None


def owner_ref(obj: dict[str, Any], api: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(
    type_: str, status: str, reason: str | None, message: str | None, when: datetime
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "status": status, "lastTransitionTime": ts(when)}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out
