"""Check runbook steps against the action groups' OpenAPI documents (``schemas/*.json``).

:func:`load_operation_catalog` reads the generated schemas into :class:`OperationInfo` per
operationId; :func:`check_runbook` lists every way a runbook's steps and proposals disagree with
them (unknown operation, unknown or missing parameter, a mutation used as a step, a read used as a
proposal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from opsagent.runbooks.models import Proposal, Runbook

METHODS = ("get", "put", "post", "delete", "patch")


class OperationInfo(BaseModel):
    operation_id: str
    method: str
    path: str
    group: str = ""
    params: dict[str, bool] = Field(default_factory=dict, description="path/query parameter -> required")
    body: dict[str, bool] = Field(default_factory=dict, description="request body property -> required")
    confirmation: bool = False

    @property
    def mutating(self) -> bool:
        return self.method != "get" or self.confirmation

    @property
    def all_params(self) -> dict[str, bool]:
        return {**self.params, **self.body}


def _resolve(schema: Any, doc: Mapping[str, Any]) -> Any:
    """Follow a local ``$ref`` (the generated files are inlined, but be lenient)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema, seen = node, seen + 1
    return schema if isinstance(schema, dict) else {}


def operations_from_document(doc: Mapping[str, Any], group: str = "") -> dict[str, OperationInfo]:
    out: dict[str, OperationInfo] = {}
    for path, item in (doc.get("paths") or {}).items():
        for method, op in (item or {}).items():
            if method not in METHODS or not isinstance(op, dict) or "operationId" not in op:
                continue
            params = {p["name"]: bool(p.get("required")) for p in op.get("parameters", []) if "name" in p}
            body: dict[str, bool] = {}
            content = (op.get("requestBody") or {}).get("content") or {}
            schema = _resolve((content.get("application/json") or {}).get("schema"), doc)
            required = set(schema.get("required") or [])
            for name in schema.get("properties") or {}:
                body[name] = name in required
            out[op["operationId"]] = OperationInfo(
                operation_id=op["operationId"],
                method=method,
                path=path,
                group=group,
                params=params,
                body=body,
                confirmation=op.get("x-requireConfirmation") == "ENABLED",
            )
    return out


def load_operation_catalog(schema_dir: str | Path) -> dict[str, OperationInfo]:
    """Every operation of every ``*.json`` OpenAPI document in ``schema_dir`` (empty if none)."""
    catalog: dict[str, OperationInfo] = {}
    for path in sorted(Path(schema_dir).glob("*.json")):
        catalog.update(operations_from_document(json.loads(path.read_text(encoding="utf-8")), path.stem))
    return catalog


def check_runbook(runbook: Runbook, catalog: Mapping[str, OperationInfo]) -> list[str]:
    """Problems of one runbook against the operation catalog (empty = valid)."""
    name = Path(runbook.source).name or runbook.id
    problems: list[str] = []
    items: Iterable[tuple[str, int, Any]] = [("steps", i, s) for i, s in enumerate(runbook.steps)] + [
        ("proposals", i, p) for i, p in enumerate(runbook.proposals)
    ]
    for kind, index, step in items:
        where = f"{name}: {kind}[{index}] {step.operation}"
        info = catalog.get(step.operation)
        if info is None:
            problems.append(f"{where}: unknown operationId (known: {', '.join(sorted(catalog))})")
            continue
        if kind == "steps" and info.mutating:
            problems.append(f"{where}: changes state ({info.method.upper()}); only allowed under proposals")
        if kind == "proposals" and not info.mutating:
            problems.append(f"{where}: read-only operation; proposals are for mutations, use steps")
        known = info.all_params
        decided = set(step.decide) if isinstance(step, Proposal) else set()
        for param in [*step.params, *decided]:
            if param not in known:
                problems.append(
                    f"{where}: parameter {param!r} does not exist (has: {', '.join(sorted(known))})"
                )
        given = set(step.params) | decided
        for param, required in known.items():
            if required and param not in given:
                problems.append(f"{where}: required parameter {param!r} missing")
    return problems
