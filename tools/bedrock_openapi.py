"""Bedrock's subset of OpenAPI for action groups: turn a Powertools-generated document into one
Bedrock accepts, and list every way a document breaks the subset.

The rules (Bedrock's action-group OpenAPI requirements): ``openapi`` is exactly 3.0.0; every operation has a
``description`` and a unique ``operationId`` of letters, digits, ``-`` and ``_``; every parameter has a
name and a description and is a flat scalar (Bedrock passes values as strings and does not decode
arrays); every response has ``content`` → media type → ``schema``; no request body on GET/DELETE;
no ``enum`` anywhere (allowed values go into the description and are validated in code);
``x-requireConfirmation`` is ENABLED or DISABLED; an action group has at most 11 APIs across all groups.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from typing import Any

from opsagent import catalogue

OPENAPI_VERSION = "3.0.0"
MAX_APIS_PER_AGENT = 11
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
OPERATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SCALAR_TYPES = {"string", "integer", "number", "boolean"}
MUTATING_OPERATIONS_REQUIRE_CONFIRMATION = {t.name for t in catalogue.TOOLS if t.confirmation}
# Schema keywords whose values are maps of name -> schema (the names are not keywords).
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_SINGLE = ("items", "additionalProperties", "not")


# ---------------------------------------------------------------------------- post-processing
def to_bedrock(doc: dict[str, Any], *, description: str) -> dict[str, Any]:
    """A copy of ``doc`` reduced to Bedrock's subset, with every ``$ref`` inlined."""
    doc = copy.deepcopy(doc)
    components = (doc.get("components") or {}).get("schemas") or {}
    doc["openapi"] = OPENAPI_VERSION
    doc.pop("servers", None)
    doc.pop("components", None)
    doc["info"]["description"] = description
    for _, _, op in iter_operations(doc):
        op.pop("summary", None)
        op["responses"] = {code: r for code, r in op.get("responses", {}).items() if code != "422"}
        for param in op.get("parameters", []):
            param["schema"] = _clean_schema(param.get("schema", {}), components)
        body = op.get("requestBody")
        if body:
            for media in body.get("content", {}).values():
                media["schema"] = _clean_schema(media.get("schema", {}), components)
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                media["schema"] = _clean_schema(media.get("schema", {}), components)
    return doc


def _clean_schema(schema: Any, components: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"recursive schema {name} cannot be inlined for Bedrock")
        target = {**components[name], **{k: v for k, v in schema.items() if k != "$ref"}}
        return _clean_schema(target, components, (*seen, name))
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue  # noise in the model's context
        if key in _SCHEMA_MAPS:
            out[key] = {name: _clean_schema(sub, components, seen) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_clean_schema(sub, components, seen) for sub in value]
        elif key in _SCHEMA_SINGLE:
            out[key] = _clean_schema(value, components, seen)
        else:
            out[key] = value
    # Optional[X] comes out as anyOf[X] + nullable: flatten it to X + nullable.
    if "anyOf" in out and len(out["anyOf"]) == 1:
        only = out.pop("anyOf")[0]
        out = {**only, **out}
    for keyword in ("enum", "const"):
        if keyword in out:
            allowed = out.pop(keyword)
            allowed = allowed if isinstance(allowed, list) else [allowed]
            text = "Allowed values: " + ", ".join(map(str, allowed)) + "."
            current = out.get("description", "")
            if "allowed values" not in current.lower():
                out["description"] = f"{current.rstrip().rstrip('.')}. {text}" if current.strip() else text
    return out


# ---------------------------------------------------------------------------- validation
def iter_operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _walk_schemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield where, schema
    for key in _SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from _walk_schemas(sub, f"{where}.{name}")
    for key in _SCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from _walk_schemas(sub, f"{where}.{key}[{i}]")
    for key in _SCHEMA_SINGLE:
        if isinstance(schema.get(key), dict):
            yield from _walk_schemas(schema[key], f"{where}.{key}")


def violations(doc: dict[str, Any]) -> list[str]:
    """Every way ``doc`` breaks Bedrock's action-group subset (empty when it is fine)."""
    problems: list[str] = []
    if doc.get("openapi") != OPENAPI_VERSION:
        problems.append(f"openapi must be {OPENAPI_VERSION}, not {doc.get('openapi')!r}")
    description = (doc.get("info") or {}).get("description") or ""
    if not 1 <= len(description) <= 200:
        problems.append("info.description (the action group description) must be 1-200 characters")
    seen_ids: set[str] = set()
    for path, method, op in iter_operations(doc):
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not op_id or not OPERATION_ID.match(op_id):
            problems.append(f"{where}: operationId {op_id!r} missing or not [A-Za-z0-9_-]{{1,64}}")
        elif op_id in seen_ids:
            problems.append(f"{where}: operationId {op_id} is not unique")
        seen_ids.add(op_id or "")
        if not (op.get("description") or "").strip():
            problems.append(f"{where}: description is required")
        if method in ("get", "delete") and "requestBody" in op:
            problems.append(f"{where}: no request body allowed on {method.upper()}")
        confirmation = op.get("x-requireConfirmation")
        if confirmation not in (None, "ENABLED", "DISABLED"):
            problems.append(f"{where}: x-requireConfirmation must be ENABLED or DISABLED")
        if op_id in MUTATING_OPERATIONS_REQUIRE_CONFIRMATION and confirmation != "ENABLED":
            problems.append(f"{where}: mutation {op_id} must carry x-requireConfirmation: ENABLED")
        for param in op.get("parameters", []):
            name = param.get("name")
            pwhere = f"{where} parameter {name!r}"
            if not name:
                problems.append(f"{where}: a parameter has no name")
            if not (param.get("description") or "").strip():
                problems.append(f"{pwhere}: description is required")
            if param.get("in") not in ("path", "query", "header"):
                problems.append(f"{pwhere}: 'in' must be path, query or header")
            ptype = (param.get("schema") or {}).get("type")
            if ptype not in SCALAR_TYPES:
                problems.append(
                    f"{pwhere}: must be a flat scalar (string/integer/number/boolean), got {ptype}"
                )
        body = op.get("requestBody")
        if body:
            for media_type, media in (body.get("content") or {}).items():
                props = (media.get("schema") or {}).get("properties") or {}
                if not props:
                    problems.append(f"{where}: request body {media_type} must be an object with properties")
                for prop, sub in props.items():
                    if sub.get("type") not in SCALAR_TYPES:
                        problems.append(f"{where}: body property {prop!r} must be a flat scalar")
                    if not (sub.get("description") or "").strip():
                        problems.append(f"{where}: body property {prop!r} needs a description")
        responses = op.get("responses") or {}
        if not responses:
            problems.append(f"{where}: at least one response is required")
        for code, response in responses.items():
            content = response.get("content") or {}
            if not content or not all(isinstance(m.get("schema"), dict) for m in content.values()):
                problems.append(f"{where}: response {code} needs content -> media type -> schema")
        for schema_where, schema in _iter_op_schemas(op, where):
            if "enum" in schema or "const" in schema:
                problems.append(f"{schema_where}: enum/const is not supported by Bedrock")
            if "$ref" in schema:
                problems.append(f"{schema_where}: $ref must be inlined")
    return problems


def _iter_op_schemas(op: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for param in op.get("parameters", []):
        yield from _walk_schemas(param.get("schema"), f"{where} parameter {param.get('name')}")
    for media_type, media in ((op.get("requestBody") or {}).get("content") or {}).items():
        yield from _walk_schemas(media.get("schema"), f"{where} body {media_type}")
    for code, response in (op.get("responses") or {}).items():
        for media_type, media in (response.get("content") or {}).items():
            yield from _walk_schemas(media.get("schema"), f"{where} response {code} {media_type}")


def count_operations(docs: Iterable[dict[str, Any]]) -> int:
    return sum(1 for doc in docs for _ in iter_operations(doc))
