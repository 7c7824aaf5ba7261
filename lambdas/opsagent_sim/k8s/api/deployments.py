"""Writes: ``deployments/{name}/scale`` (GET, PATCH, PUT) and PATCH of a Deployment."""

from __future__ import annotations

import copy
import json
from typing import Any

from opsagent_sim.k8s.api.errors import ApiError
from opsagent_sim.k8s.api.patch import apply_patch
from opsagent_sim.k8s.api.reads import not_found
from opsagent_sim.k8s.model.controllers import scale_deployment
from opsagent_sim.k8s.model.store import ClusterState


def scale_object(dep: dict[str, Any]) -> dict[str, Any]:
    meta = dep["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(dep["spec"]["selector"]["matchLabels"].items()))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": dep["spec"]["replicas"]},
        "status": {"replicas": dep["status"].get("replicas", 0), "selector": selector},
    }


def read_body(headers: dict[str, str], body: bytes) -> tuple[str, Any]:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        return ctype, json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None


def conflict(name: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on deployments.apps "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": "apps", "kind": "deployments"},
    )


def validate_replicas(kind: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(
            422 if value is not None else 400,
            f'{kind} "{name}" is invalid: spec.replicas: Invalid value: {json.dumps(value)}: '
            "must be an integer",
        )
    if value < 0:
        raise ApiError(
            422,
            f'{kind} "{name}" is invalid: spec.replicas: Invalid value: {value}: '
            "must be greater than or equal to 0",
        )
    return value


def scale(
    state: ClusterState, method: str, namespace: str, name: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    dep = state.get("deployments", namespace, name)
    if dep is None:
        raise not_found("deployments", name)
    scale = scale_object(dep)
    if method == "GET":
        return scale
    ctype, doc = read_body(headers, body)
    if method == "PUT":
        if not isinstance(doc, dict):
            raise ApiError(400, "the body must be a Scale object")
        new = doc
    elif method == "PATCH":
        new = apply_patch(ctype, scale, doc)
    else:
        raise ApiError(405, "the server does not allow this method on the requested resource")
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv not in (None, "") and str(rv) != dep["metadata"]["resourceVersion"]:
        raise conflict(name)
    replicas = validate_replicas("Scale.autoscaling", name, (new.get("spec") or {}).get("replicas"))
    if replicas != dep["spec"]["replicas"]:
        scale_deployment(state, namespace, name, replicas)
    return scale_object(state.deployment(namespace, name))


def patch_deployment(
    state: ClusterState, namespace: str, name: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    dep = state.get("deployments", namespace, name)
    if dep is None:
        raise not_found("deployments", name)
    ctype, doc = read_body(headers, body)
    new = apply_patch(ctype, dep, doc)
    rv = (new.get("metadata") or {}).get("resourceVersion")
    if rv not in (None, "") and str(rv) != dep["metadata"]["resourceVersion"]:
        raise conflict(name)
    replicas = validate_replicas("Deployment.apps", name, (new.get("spec") or {}).get("replicas"))
    new.pop("status", None)
    meta_changed = any(
        new.get("metadata", {}).get(k) != dep["metadata"].get(k) for k in ("labels", "annotations")
    )
    other_spec = {k: v for k, v in new.get("spec", {}).items() if k != "replicas"}
    if other_spec != {k: v for k, v in dep["spec"].items() if k != "replicas"}:
        dep["spec"].update(copy.deepcopy(other_spec))
        dep["metadata"]["generation"] = int(dep["metadata"].get("generation", 1)) + 1
        meta_changed = True
    for key in ("labels", "annotations"):
        if key in new.get("metadata", {}):
            dep["metadata"][key] = copy.deepcopy(new["metadata"][key])
    if replicas != dep["spec"]["replicas"]:
        scale_deployment(state, namespace, name, replicas)
    elif meta_changed:
        dep["metadata"]["resourceVersion"] = state.next_rv()
    return dep
