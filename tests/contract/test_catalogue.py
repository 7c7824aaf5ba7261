"""The catalogue is the one declaration of every tool: the resolver routes, the generated Bedrock
OpenAPI, the MCP tool lists, the Converse toolSpecs and the investigation's tables must all agree
with it, entry by entry and both ways."""

from __future__ import annotations

import importlib
import json
import typing

import jsonschema
import pytest

from opsagent import catalogue
from opsagent.catalogue import Param, Tool
from tools import gen_schemas, mcp_schema
from tools.bedrock_openapi import iter_operations

TOOLS = {t.name: t for t in catalogue.TOOLS}


def _routes(group: str) -> dict[str, typing.Any]:
    app = importlib.import_module(f"opsagent.handlers.{group}").app
    return {r.operation_id: r for r in app._static_routes + app._dynamic_routes}


@pytest.mark.parametrize("group", list(catalogue.GROUPS))
def test_every_route_has_its_entry_and_every_entry_its_route(group):
    routes = _routes(group)
    assert set(routes) == {t.name for t in catalogue.tools_in(group)}
    for name, route in routes.items():
        t = TOOLS[name]
        assert route.method.upper() == t.method, name
        assert (route.path, route.openapi_path) == (t.rule, t.path), name
        assert route.description == t.description, name
        assert typing.get_type_hints(route.func)["return"] is t.response_class(), name


def _openapi_ops() -> dict[str, tuple[str, str, str, dict]]:
    return {
        op["operationId"]: (group, method.upper(), path, op)
        for group in catalogue.GROUPS
        for path, method, op in iter_operations(gen_schemas.generate(group))
    }


def _expected(p: Param) -> dict:
    want: dict = {"type": p.type, "description": p.description}
    if p.default is not None:
        want["default"] = p.default
    if p.nullable:
        want["nullable"] = True
    for key, value in (
        ("minimum", p.minimum),
        ("maximum", p.maximum),
        ("minLength", p.min_length),
        ("maxLength", p.max_length),
    ):
        if value is not None:
            want[key] = value
    return want


@pytest.mark.parametrize("name", list(TOOLS))
def test_generated_openapi_operation_is_exactly_the_entry(name):
    t = TOOLS[name]
    group, method, path, op = _openapi_ops()[name]
    assert (group, method, path, op["description"]) == (t.group, t.method, t.path, t.description)
    assert op.get("x-requireConfirmation") == ("ENABLED" if t.confirmation else None)
    params = {p["name"]: p for p in op.get("parameters", [])}
    assert set(params) == {p.name for p in t.params if p.location != "body"}
    for p in t.params:
        if p.location == "body":
            continue
        got = params[p.name]
        assert (got["in"], got.get("required", False)) == (p.location, p.required), p.name
        assert got["schema"] == _expected(p), p.name
    body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    body_params = t.params_in("body")
    assert bool(body) == bool(body_params)
    if body:
        assert set(body["properties"]) == {p.name for p in body_params}
        assert sorted(body.get("required", [])) == sorted(p.name for p in body_params if p.required)
        for p in body_params:
            got = {k: v for k, v in body["properties"][p.name].items()}
            assert got == _expected(p), p.name


def test_catalogue_copies_of_domain_constants_agree():
    from opsagent.metrics import models as metric_models
    from opsagent.pods import operations as pod_ops

    assert (
        catalogue.tool("queryMetric")
        .param("statistic")
        .description.startswith(f"One of {metric_models.STATISTIC_HELP}.")
    )
    assert metric_models.PERIOD_HELP in catalogue.tool("queryMetric").param("period").description
    assert catalogue.tool("queryMetric").param("minutes").default == metric_models.DEFAULT_MINUTES
    assert f"1 to {metric_models.MAX_MINUTES}" in catalogue.tool("queryMetric").param("minutes").description
    assert catalogue.tool("getPodLogs").param("lines").default == pod_ops.DEFAULT_LOG_LINES


def test_committed_generated_files_are_what_the_catalogue_generates():
    for path, text in gen_schemas.generated_files().items():
        assert path.exists(), f"{path} missing: run `make schemas`"
        assert path.read_text() == text, f"{path} is out of date: run `make schemas`"
    assert gen_schemas.main(["--check"]) == 0


# ----------------------------------------------------------------------------------- MCP / Converse
@pytest.mark.parametrize("group", list(catalogue.GROUPS))
def test_mcp_tools_are_in_the_gateway_subset_and_valid_json_schema(group):
    tools = catalogue.mcp_tools(group)
    assert mcp_schema.violations(tools, target=group) == []
    for t in tools:
        jsonschema.Draft202012Validator.check_schema(t["inputSchema"])
        entry = catalogue.tool(t["name"])
        assert catalogue.ERROR_CONTRACT in t["description"]
        assert t["inputSchema"]["required"] if entry.required else "required" not in t["inputSchema"]


def test_tools_list_as_a_gateway_client_sees_it():
    listed = [
        {**t, "name": f"{group}___{t['name']}"}
        for group in catalogue.GROUPS
        for t in catalogue.mcp_tools(group)
    ]
    names = [t["name"] for t in listed]
    assert len(names) == len(set(names)) == len(catalogue.TOOLS)
    assert all(len(n) <= mcp_schema.MAX_QUALIFIED_NAME for n in names)
    assert "pods___listPods" in names and "scaling___scaleDeployment" in names
    for n in names:
        assert catalogue.split_gateway_tool_name(n)[1] in TOOLS
    # a client validating its own call against the listed schema: required and types enforced
    scale = next(t for t in listed if t["name"] == "scaling___scaleDeployment")["inputSchema"]
    jsonschema.validate(
        {"namespace": "shop", "deployment": "checkout", "replicas": 4, "reason": "cpu"}, scale
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"namespace": "shop", "deployment": "checkout", "replicas": "4"}, scale)


@pytest.mark.parametrize(
    "bad",
    [
        {"oneOf": [{"type": "string"}]},
        {"type": "string", "enum": ["a"]},
        {"type": "string", "minLength": 1},
        {"type": "array"},
    ],
)
def test_the_gateway_subset_check_catches_what_the_gateway_rejects(bad):
    tool = {"name": "x", "description": "d", "inputSchema": {"type": "object", "properties": {"a": bad}}}
    assert mcp_schema.violations([tool], target="pods")


def test_converse_tool_specs_cover_the_catalogue():
    specs = catalogue.converse_tool_specs()
    assert [s["toolSpec"]["name"] for s in specs] == [t.name for t in catalogue.TOOLS]
    for s in specs:
        assert s["toolSpec"]["inputSchema"]["json"] == catalogue.tool(s["toolSpec"]["name"]).input_schema()
    assert [s["toolSpec"]["name"] for s in catalogue.converse_tool_specs(["listPods"])] == ["listPods"]


# ----------------------------------------------------------------------------------- Classic subset
def test_classic_subset_defaults_to_all_ten_and_keeps_catalogue_order():
    assert [t.name for t in catalogue.classic_subset()] == [t.name for t in catalogue.TOOLS]
    assert [t.name for t in catalogue.classic_subset(["createTicket", "listPods"])] == [
        "listPods",
        "createTicket",
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["listPods", "nope"], "unknown tools"),
        (["listPods", "listPods"], "listed twice"),
        ([], "empty"),
    ],
)
def test_classic_subset_refuses_bad_configuration(names, message):
    with pytest.raises(ValueError, match=message):
        catalogue.classic_subset(names)


def test_classic_subset_refuses_more_than_eleven_apis(monkeypatch):
    extra = [
        Tool(
            name=f"extra{i}", group="pods", method="GET", path=f"/x{i}", description="d", response_model="m:C"
        )
        for i in range(2)
    ]
    monkeypatch.setattr(catalogue, "TOOLS", catalogue.TOOLS + tuple(extra))
    monkeypatch.setattr(catalogue, "_BY_NAME", {t.name: t for t in catalogue.TOOLS})
    assert len(catalogue.classic_subset([t.name for t in catalogue.TOOLS[:11]])) == 11
    with pytest.raises(ValueError, match="at most 11"):
        catalogue.classic_subset()


def test_classic_document_filters_a_committed_schema_by_the_subset():
    doc = json.loads((gen_schemas.SCHEMA_DIR / "tickets.json").read_text())
    subset = catalogue.classic_subset(["listPods", "searchTickets"])
    kept = catalogue.classic_document(doc, subset)
    assert [op["operationId"] for _, _, op in iter_operations(kept)] == ["searchTickets"]
    assert kept["openapi"] == "3.0.0" and kept["info"] == doc["info"]
    assert catalogue.classic_document(doc, catalogue.classic_subset(["listPods"])) is None
    assert catalogue.classic_document(doc, catalogue.classic_subset()) == doc


def test_subset_document_keeps_only_the_chosen_operations():
    doc = gen_schemas.generate("scaling", {"getDeployment"})
    assert [op["operationId"] for _, _, op in iter_operations(doc)] == ["getDeployment"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "/a/{x}", "params": ()},  # path parameter not declared
        {"params": (Param(name="b", location="body"),)},  # body on GET
        {"confirmation": True},  # confirmation without mutation
        {"name": "bad name"},
    ],
)
def test_an_inconsistent_entry_is_refused(kwargs):
    base = {
        "name": "t",
        "group": "pods",
        "method": "GET",
        "path": "/a",
        "description": "d",
        "response_model": "m:C",
    }
    with pytest.raises(ValueError):
        Tool(**{**base, **kwargs})


def test_investigation_and_trace_tables_come_from_the_catalogue():
    from opsagent.agent_runtime import OPERATIONS as TRACE_OPS
    from opsagent.investigation.operations import OPERATIONS

    assert set(OPERATIONS) == set(TOOLS)
    assert {(t.method, t.path): t.name for t in catalogue.TOOLS} == TRACE_OPS
    for name, spec in OPERATIONS.items():
        assert spec.mutating == TOOLS[name].mutation
        assert json.dumps(spec.body) == json.dumps([p.name for p in TOOLS[name].params_in("body")])


def test_gateway_policy_tools_from_the_catalogue_agree_with_the_committed_openapi():
    from opsagent.gateway_policy.tools import default_tools, openapi_tools

    def key(tools):
        return {
            (t.target, t.name, t.mutating): (
                {k: (v["type"], v.get("description", "")) for k, v in t.input_schema["properties"].items()},
                sorted(t.input_schema.get("required", [])),
            )
            for t in tools
        }

    assert key(default_tools()) == key(openapi_tools())
