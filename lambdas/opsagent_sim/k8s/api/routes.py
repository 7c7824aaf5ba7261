"""URL -> (group, resource, namespace, name, subresource), the verb, and the dispatch to handlers."""

from __future__ import annotations

import json
from typing import Any

from opsagent_sim.k8s.api.deployments import patch_deployment, scale
from opsagent_sim.k8s.api.errors import ApiError
from opsagent_sim.k8s.api.pod_logs import pod_log
from opsagent_sim.k8s.api.reads import get_object, list_objects
from opsagent_sim.k8s.model.objects import RESOURCES
from opsagent_sim.k8s.model.store import ClusterState

Route = tuple[str, str, str | None, str | None, str | None]  # group, resource, namespace, name, subresource

# (group, resource) for the URL forms we serve; metrics.k8s.io "pods" are PodMetrics.
ROUTES = {
    ("", "v1"): {"namespaces", "nodes", "pods", "events"},
    ("apps", "v1"): {"deployments", "replicasets"},
    ("autoscaling", "v2"): {"horizontalpodautoscalers"},
    ("metrics.k8s.io", "v1beta1"): {"pods"},
}


def dispatch(
    state: ClusterState,
    method: str,
    route: Route,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> tuple[int, str, bytes]:
    """One authenticated, authorized request to its handler -> (status, content type, body)."""
    group, resource, namespace, name, sub = route
    with state.lock:
        if name is None:
            if method != "GET":
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return 200, "application/json", dumps(list_objects(state, resource, namespace, query))
        if sub == "log" and resource == "pods":
            if method != "GET":
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return 200, "text/plain", pod_log(state, namespace or "", name, query).encode()
        if sub == "scale" and resource == "deployments":
            return (
                200,
                "application/json",
                dumps(scale(state, method, namespace or "", name, headers, body)),
            )
        if sub:
            raise ApiError(404, "the server could not find the requested resource")
        if method == "GET":
            return 200, "application/json", dumps(get_object(state, resource, namespace, name))
        if method == "PATCH" and resource == "deployments":
            return (
                200,
                "application/json",
                dumps(patch_deployment(state, namespace or "", name, headers, body)),
            )
        raise ApiError(405, "the server does not allow this method on the requested resource")


def parse_path(path: str) -> Route | None:
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    served = ROUTES.get((group, version))
    if not served or not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    if resource not in served:
        return None
    if group == "metrics.k8s.io":
        resource = "podmetrics"
    if RESOURCES[resource][3] is False and namespace is not None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if len(rest) > 3:
        return None
    return group, resource, namespace, name, sub


def verb(method: str, name: str | None, query: dict[str, str]) -> str:
    if method == "GET":
        if query.get("watch", "").lower() in ("1", "true"):
            return "watch"
        return "get" if name else "list"
    return {"PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}.get(
        method, method.lower()
    )


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
