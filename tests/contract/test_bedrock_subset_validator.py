"""The subset validator must catch every rule of reference §2, or the schema tests prove nothing."""

import copy

import pytest

from tools.bedrock_openapi import count_operations, to_bedrock, violations

GOOD = {
    "openapi": "3.0.0",
    "info": {"title": "t", "version": "1", "description": "a group"},
    "paths": {
        "/things/{name}": {
            "get": {
                "operationId": "getThing",
                "description": "Get a thing.",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "description": "Its name.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "scaleDeployment",
                "description": "Scale.",
                "x-requireConfirmation": "ENABLED",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"replicas": {"type": "integer", "description": "How many."}},
                            }
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            },
        }
    },
}


def broken(edit):
    doc = copy.deepcopy(GOOD)
    edit(doc)
    return violations(doc)


def test_a_conforming_document_has_no_violations():
    assert violations(GOOD) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(openapi="3.0.3"), "openapi must be 3.0.0"),
        (lambda d: d["info"].update(description=""), "1-200 characters"),
        (lambda d: d["info"].update(description="x" * 201), "1-200 characters"),
        (lambda d: d["paths"]["/things/{name}"]["get"].pop("operationId"), "operationId"),
        (lambda d: d["paths"]["/things/{name}"]["get"].update(operationId="get thing!"), "operationId"),
        (lambda d: d["paths"]["/things/{name}"]["post"].update(operationId="getThing"), "not unique"),
        (lambda d: d["paths"]["/things/{name}"]["get"].update(description=" "), "description is required"),
        (
            lambda d: d["paths"]["/things/{name}"]["get"].update(
                requestBody=d["paths"]["/things/{name}"]["post"]["requestBody"]
            ),
            "no request body allowed",
        ),
        (
            lambda d: d["paths"]["/things/{name}"]["get"]["parameters"][0].pop("description"),
            "description is required",
        ),
        (
            lambda d: d["paths"]["/things/{name}"]["get"]["parameters"][0].update(
                schema={"type": "array", "items": {"type": "string"}}
            ),
            "flat scalar",
        ),
        (lambda d: d["paths"]["/things/{name}"]["get"]["parameters"][0]["schema"].update(enum=["a"]), "enum"),
        (lambda d: d["paths"]["/things/{name}"]["get"]["responses"]["200"].pop("content"), "content"),
        (
            lambda d: d["paths"]["/things/{name}"]["get"]["responses"]["200"]["content"]["application/json"][
                "schema"
            ]["properties"].update(s={"$ref": "#/components/schemas/S"}),
            "$ref",
        ),
        (
            lambda d: d["paths"]["/things/{name}"]["get"]["responses"]["200"]["content"]["application/json"][
                "schema"
            ]["properties"].update(s={"type": "string", "enum": ["a", "b"]}),
            "enum",
        ),
        (
            lambda d: d["paths"]["/things/{name}"]["post"].update({"x-requireConfirmation": "YES"}),
            "ENABLED or DISABLED",
        ),
        (lambda d: d["paths"]["/things/{name}"]["post"].pop("x-requireConfirmation"), "must carry"),
        (
            lambda d: d["paths"]["/things/{name}"]["post"]["requestBody"]["content"]["application/json"][
                "schema"
            ]["properties"]["replicas"].pop("description"),
            "needs a description",
        ),
        (
            lambda d: d["paths"]["/things/{name}"]["post"]["requestBody"]["content"]["application/json"][
                "schema"
            ]["properties"].update(tags={"type": "array", "description": "x"}),
            "flat scalar",
        ),
    ],
)
def test_each_rule_is_enforced(edit, expected):
    problems = broken(edit)
    assert any(expected in p for p in problems), problems


def test_post_processing_removes_what_powertools_adds():
    raw = copy.deepcopy(GOOD)
    raw["openapi"] = "3.0.3"
    raw["servers"] = [{"url": "/"}]
    op = raw["paths"]["/things/{name}"]["get"]
    op["summary"] = "GET /things/{name}"
    op["parameters"].append(
        {
            "name": "stat",
            "in": "query",
            "description": "Statistic",
            "schema": {"type": "string", "enum": ["Average", "Sum"], "title": "Stat"},
        }
    )
    op["parameters"].append(
        {
            "name": "sel",
            "in": "query",
            "description": "Selector",
            "schema": {"anyOf": [{"type": "string"}], "nullable": True},
        }
    )
    op["responses"]["422"] = {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
    }
    op["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Out"}
    raw["components"] = {
        "schemas": {
            "Out": {
                "type": "object",
                "title": "Out",
                "properties": {"title": {"type": "string", "title": "T"}},
            },
            "HTTPValidationError": {"type": "object"},
        }
    }
    assert violations(raw)  # the raw document is not acceptable ...
    clean = to_bedrock(raw, description="a group")
    assert violations(clean) == []  # ... the processed one is
    params = {p["name"]: p for p in clean["paths"]["/things/{name}"]["get"]["parameters"]}
    assert params["stat"]["schema"]["description"].endswith("Allowed values: Average, Sum.")
    assert params["sel"]["schema"] == {"type": "string", "nullable": True}
    out = clean["paths"]["/things/{name}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert out["properties"] == {"title": {"type": "string"}}  # a property *named* title survives
    assert "components" not in clean and "servers" not in clean


def test_operations_are_counted_across_documents():
    assert count_operations([GOOD, GOOD]) == 4
