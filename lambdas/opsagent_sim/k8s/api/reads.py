"""GET of one object and lists (limit/continue, selectors)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from opsagent_sim.k8s.api.errors import ApiError
from opsagent_sim.k8s.api.selectors import parse_field_selector, parse_label_selector
from opsagent_sim.k8s.model.objects import RESOURCES, api_version
from opsagent_sim.k8s.model.store import ClusterState


def not_found(resource: str, name: str) -> ApiError:
    group = RESOURCES[resource][0]
    plural = "pods" if resource == "podmetrics" else resource
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(404, f'{qualified} "{name}" not found', {"name": name, "group": group, "kind": plural})


def get_object(state: ClusterState, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
    obj = state.get(resource, namespace or "", name)
    if obj is None:
        raise not_found(resource, name)
    return obj


def list_objects(
    state: ClusterState, resource: str, namespace: str | None, query: dict[str, str]
) -> dict[str, Any]:
    labels = parse_label_selector(query.get("labelSelector", ""))
    fields = parse_field_selector(resource, query.get("fieldSelector", ""))
    limit = 0
    if query.get("limit"):
        try:
            limit = max(int(query["limit"]), 0)
        except ValueError:
            raise ApiError(400, f"invalid limit {query['limit']!r}") from None
    start_after: tuple[str, str] | None = None
    list_rv = state.rv
    if query.get("continue"):
        start_after, list_rv = decode_continue(state, query["continue"])
    store = state.objects[resource]
    items: list[dict[str, Any]] = []
    next_key: tuple[str, str] | None = None
    remaining = 0
    for key in state.keys(resource):
        if namespace is not None and key[0] != namespace:
            continue
        if start_after is not None and key <= start_after:
            continue
        obj = store[key]
        if labels:
            obj_labels = obj["metadata"].get("labels") or {}
            if not all(p(obj_labels) for p in labels):
                continue
        if fields and not all(p(obj) for p in fields):
            continue
        if limit and len(items) >= limit:
            remaining += 1
            continue
        items.append(obj)
        next_key = key
    metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
    if remaining and next_key is not None:
        token = {"v": "meta.k8s.io/v1", "rv": list_rv, "start": f"{next_key[0]}/{next_key[1]}\x00"}
        metadata["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
        if not labels and not fields:
            metadata["remainingItemCount"] = remaining
    _, _, kind, _ = RESOURCES[resource]
    out_items = []
    for obj in items:
        item = dict(obj)
        item.pop("kind", None)
        item.pop("apiVersion", None)
        out_items.append(item)
    return {
        "kind": f"{kind}List",
        "apiVersion": api_version(resource),
        "metadata": metadata,
        "items": out_items,
    }


def decode_continue(state: ClusterState, token: str) -> tuple[tuple[str, str], int]:
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        ns, _, name = str(data["start"]).rstrip("\x00").partition("/")
        rv = int(data["rv"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ApiError(400, "continue key is not valid: incorrect encoded start resourceVersion") from None
    if rv < state.compacted_rv:
        raise ApiError(
            410,
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start "
            "a new list without the continue parameter, or use the continue token in this response to "
            "retrieve the remainder of the results.",
            reason="Expired",
        )
    return (ns, name), rv
