"""The pods action group's OpenAPI: each response carries its model's schema (the field
descriptions are what the model reads), and ``None`` fields stay out of the bodies."""

from __future__ import annotations

import json

import pytest

from opsagent.pods.models import ProblemPod


@pytest.fixture(scope="module")
def operations() -> dict[str, dict]:
    from opsagent.handlers.pods import app

    schema = json.loads(app.get_openapi_json_schema())
    components = schema.get("components", {}).get("schemas", {})
    out = {}
    for item in schema["paths"].values():
        for op in item.values():
            ref = op["responses"]["200"]["content"]["application/json"]["schema"].get("$ref", "")
            out[op["operationId"]] = components.get(ref.rsplit("/", 1)[-1], {})
    return out


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("listPods", {"problem_pods", "problems_by_reason", "untrusted_output", "untrusted_note"}),
        ("describePod", {"containers", "events", "problem", "untrusted_output"}),
        ("getPodLogs", {"text", "redactions", "lines_omitted", "untrusted_output"}),
    ],
)
def test_each_response_schema_lists_its_fields(operations, operation, fields):
    properties = operations[operation].get("properties", {})
    assert fields <= set(properties), f"{operation}: response schema is {operations[operation]}"


def test_none_fields_are_left_out_of_the_body():
    body = ProblemPod(name="p", reason="Pending", phase="Pending", ready="0/1", restarts=0).model_dump(
        mode="json"
    )
    assert body == {"name": "p", "reason": "Pending", "phase": "Pending", "ready": "0/1", "restarts": 0}
