"""schemas/*.json: generated from the resolver apps, in Bedrock's subset, valid OpenAPI, within budget."""

import json

import pytest
from openapi_spec_validator import validate

from tools.bedrock_openapi import MAX_APIS_PER_AGENT, count_operations, iter_operations, violations
from tools.gen_schemas import GROUPS, SCHEMA_DIR, generate, render

# The API budget: pods 3, scaling 2, metrics 2, tickets 3 = 10 of Bedrock's 11.
EXPECTED_OPERATIONS = {
    "pods": {"listPods", "describePod", "getPodLogs"},
    "metrics": {"queryMetric", "listActiveAlarms"},
    "scaling": {"getDeployment", "scaleDeployment"},
    "tickets": {"createTicket", "searchTickets", "addTicketComment"},
}


def committed(group: str) -> dict:
    path = SCHEMA_DIR / f"{group}.json"
    assert path.exists(), f"{path} is missing: run `make schemas` and commit it"
    return json.loads(path.read_text())


@pytest.mark.parametrize("group", GROUPS)
def test_committed_schema_matches_the_code(group):
    path = SCHEMA_DIR / f"{group}.json"
    assert path.read_text() == render(generate(group)), f"{path.name} drifted: run `make schemas`"


@pytest.mark.parametrize("group", GROUPS)
def test_schema_is_in_bedrocks_subset(group):
    assert violations(committed(group)) == []


@pytest.mark.parametrize("group", GROUPS)
def test_schema_is_valid_openapi(group):
    validate(committed(group))


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_has_exactly_its_agreed_operations(group):
    ids = {op["operationId"] for _, _, op in iter_operations(committed(group))}
    assert ids == EXPECTED_OPERATIONS[group]


def test_all_action_groups_fit_bedrocks_api_quota():
    total = count_operations(committed(g) for g in GROUPS)
    assert total == 10
    assert total <= MAX_APIS_PER_AGENT


def test_operation_ids_are_unique_across_groups():
    ids = [op["operationId"] for g in GROUPS for _, _, op in iter_operations(committed(g))]
    assert len(ids) == len(set(ids))


def test_only_scaling_mutations_require_confirmation():
    for group in GROUPS:
        for _, _, op in iter_operations(committed(group)):
            wants = op["operationId"] == "scaleDeployment"
            assert (op.get("x-requireConfirmation") == "ENABLED") == wants, op["operationId"]


@pytest.mark.parametrize("group", GROUPS)
def test_every_success_response_describes_its_fields(group):
    """The model reads the response schema to understand a tool's answer: an empty ``{}`` (which a
    custom serializer can silently produce) hides every field description."""
    for _, _, op in iter_operations(committed(group)):
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("type") == "object" and schema.get("properties"), op["operationId"]
        assert all(isinstance(p, dict) and p for p in schema["properties"].values()), op["operationId"]
