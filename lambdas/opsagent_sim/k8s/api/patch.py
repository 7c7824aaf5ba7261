"""Patch bodies: JSON merge patch (strategic treated alike for the maps we serve) and JSON patch."""

from __future__ import annotations

import copy
from typing import Any

from opsagent_sim.k8s.api.errors import ApiError

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge is treated the same for the maps we serve)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 (add, remove, replace, test, copy, move)."""
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def walk(path: str) -> tuple[Any, str]:
        if not path.startswith("/"):
            raise ApiError(422, f"invalid JSON pointer {path!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
        node = doc
        for part in parts[:-1]:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ApiError(422, f"path {path!r} does not exist") from None
        return node, parts[-1]

    def get(path: str) -> Any:
        parent, last = walk(path)
        try:
            return parent[int(last)] if isinstance(parent, list) else parent[last]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, f"path {path!r} does not exist") from None

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "each json patch operation needs op and path")
        kind, path = op["op"], op["path"]
        if kind == "test":
            if get(path) != op.get("value"):
                raise ApiError(422, f"the test operation on {path} failed: value mismatch")
            continue
        if kind in ("copy", "move"):
            value = copy.deepcopy(get(op["from"]))
            if kind == "move":
                parent, last = walk(op["from"])
                parent.pop(int(last) if isinstance(parent, list) else last)
            kind, op = "add", {"value": value}
        parent, last = walk(path)
        if kind == "remove":
            try:
                parent.pop(int(last) if isinstance(parent, list) else last)
            except (KeyError, IndexError, ValueError):
                raise ApiError(422, f"path {path!r} does not exist") from None
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                idx = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(idx, op.get("value"))
                else:
                    parent[idx] = op.get("value")
            elif isinstance(parent, dict):
                if kind == "replace" and last not in parent:
                    raise ApiError(422, f"path {path!r} does not exist")
                parent[last] = op.get("value")
            else:
                raise ApiError(422, f"path {path!r} does not exist")
        else:
            raise ApiError(400, f"unknown json patch operation {kind!r}")
    return doc


# ---- the emulator ------------------------------------------------------------------------------


def apply_patch(ctype: str, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    kind = PATCH_TYPES.get(ctype)
    if kind is None:
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}",
        )
    if kind == "json":
        return json_patch(current, patch)
    if not isinstance(patch, dict):
        raise ApiError(400, "a merge patch must be a JSON object")
    return merge_patch(current, patch)
