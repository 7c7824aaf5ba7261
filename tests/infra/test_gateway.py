"""The AgentCore Gateway front door in the synthesized dev stack (gateway.enabled) and its absence in
prod; role trust and scoping, targets from the generated MCP lists, authorizer, Cedar engine."""

from __future__ import annotations

import json

import pytest

from opsagent import catalogue
from opsagent_infra.config import GatewayConfig, OpsAgentConfig, load_config
from opsagent_infra.packaging import ACTION_GROUP_FUNCTIONS

REPO_MCP = "schemas/mcp"


def _one(resources: dict, rtype: str) -> dict:
    (value,) = resources[rtype].values()
    return value


def _doc(stack: dict, path_suffix: str) -> dict:
    docs = [
        v
        for v in stack["data"]["aws_iam_policy_document"].values()
        if v["//"]["metadata"]["path"].endswith(path_suffix)
    ]
    (doc,) = docs
    return doc


def test_gateway_is_mcp_with_cognito_jwt_and_the_stack_key(resources):
    gw = _one(resources, "aws_bedrockagentcore_gateway")
    assert gw["protocol_type"] == "MCP"
    assert gw["authorizer_type"] == "CUSTOM_JWT"
    (jwt,) = gw["authorizer_configuration"][0]["custom_jwt_authorizer"]
    pool = next(iter(resources["aws_cognito_user_pool"]))
    client = next(iter(resources["aws_cognito_user_pool_client"]))
    assert jwt["discovery_url"].endswith(
        f"${{aws_cognito_user_pool.{pool}.id}}/.well-known/openid-configuration"
    )
    assert jwt["allowed_clients"] == [f"${{aws_cognito_user_pool_client.{client}.id}}"]
    assert gw["kms_key_arn"].startswith("${aws_kms_key.")
    assert gw["role_arn"].startswith("${aws_iam_role.gateway_role")


def test_cli_client_is_public_with_a_human_sign_in_flow(resources):
    client = _one(resources, "aws_cognito_user_pool_client")
    assert client["generate_secret"] is False
    assert sorted(client["explicit_auth_flows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    pool = _one(resources, "aws_cognito_user_pool")
    assert pool["admin_create_user_config"]["allow_admin_create_user_only"] is True  # no self sign-up


def test_one_target_per_action_group_with_the_generated_tools(resources):
    targets = {t["name"]: t for t in resources["aws_bedrockagentcore_gateway_target"].values()}
    assert sorted(targets) == sorted(ACTION_GROUP_FUNCTIONS)
    for group, target in targets.items():
        gw_id = next(iter(resources["aws_bedrockagentcore_gateway"]))
        # the id, not the ARN (hashicorp/terraform-provider-aws#47525)
        assert target["gateway_identifier"] == f"${{aws_bedrockagentcore_gateway.{gw_id}.gateway_id}}"
        (lam,) = target["target_configuration"][0]["mcp"][0]["lambda"]
        assert (
            lam["lambda_arn"]
            == f"${{aws_lambda_function.function-{group}_function_" + lam["lambda_arn"].split("_function_")[1]
        )
        payload = lam["tool_schema"][0]["inline_payload"]
        expected = catalogue.mcp_tools(group)
        assert [p["name"] for p in payload] == [t["name"] for t in expected]
        for p, t in zip(payload, expected, strict=True):
            assert p["description"] == t["description"]
            props = {q["name"]: q for q in p["input_schema"][0].get("property", [])}
            assert sorted(props) == sorted(t["inputSchema"]["properties"])
            required = {n for n, q in props.items() if q.get("required")}
            assert required == set(t["inputSchema"].get("required", []))


def test_committed_mcp_lists_are_what_the_targets_use():
    from opsagent_infra.constructs.gateway_front_door import mcp_tools

    for group in ACTION_GROUP_FUNCTIONS:
        assert mcp_tools(group) == json.loads(json.dumps(catalogue.mcp_tools(group)))


def test_gateway_role_trust_is_agentcore_for_this_account_and_gateway(stack):
    (stmt,) = _doc(stack, "gateway/role/role/trust")["statement"]
    assert stmt["principals"] == [{"identifiers": ["bedrock-agentcore.amazonaws.com"], "type": "Service"}]
    conds = {c["variable"]: c for c in stmt["condition"]}
    assert conds["aws:SourceAccount"]["test"] == "StringEquals"
    assert conds["aws:SourceArn"]["values"][0].endswith(":gateway/opsagent-dev-gw-*")
    assert stmt["sid"].isalnum()


def test_gateway_role_invokes_exactly_the_tool_functions(stack, resources):
    statements = _doc(stack, "gateway/role/role/permissions")["statement"]
    assert [s["actions"] for s in statements] == [["lambda:InvokeFunction"]]
    wanted = sorted(
        f"${{aws_lambda_function.{k}.arn}}"
        for k, v in resources["aws_lambda_function"].items()
        if any(v["function_name"].endswith(f"-{g}") for g in ACTION_GROUP_FUNCTIONS)
    )
    assert sorted(statements[0]["resources"]) == wanted and len(wanted) == len(ACTION_GROUP_FUNCTIONS)
    assert not any("*" in r for r in statements[0]["resources"])
    # same account: no resource policy for the gateway (only the Bedrock agent's permissions)
    principals = {p["principal"] for p in resources["aws_lambda_permission"].values()}
    assert "bedrock-agentcore.amazonaws.com" not in principals


def test_policy_engine_log_only_with_the_generated_cedar(resources):
    gw = _one(resources, "aws_bedrockagentcore_gateway")
    (pec,) = gw["policy_engine_configuration"]
    assert pec["mode"] == "LOG_ONLY"
    engine = next(iter(resources["aws_bedrockagentcore_policy_engine"]))
    assert pec["arn"] == f"${{aws_bedrockagentcore_policy_engine.{engine}.policy_engine_arn}}"
    policies = {p["name"]: p for p in resources["aws_bedrockagentcore_policy"].values()}
    assert {"opsagent_dev_read_tools", "opsagent_dev_scale_allowed", "opsagent_dev_scale_range"} <= set(
        policies
    )
    for p in policies.values():
        stmt = p["definition"][0]["cedar"][0]["statement"]
        assert "${aws_bedrockagentcore_gateway." in stmt  # scoped to this gateway's ARN
        assert p["policy_engine_id"].endswith(".policy_engine_id}")
    assert (
        "context.input.namespace"
        in policies["opsagent_dev_scale_allowed"]["definition"][0]["cedar"][0]["statement"]
    )


def test_outputs_the_cli_reads(stack):
    for name in (
        "gateway_url",
        "gateway_authorizer_type",
        "cognito_user_client_id",
        "cognito_user_pool_id",
        "cognito_discovery_url",
        "cognito_issuer",
        "gateway_id",
    ):
        assert name in stack["output"], name


def test_kms_key_lets_agentcore_use_it_only_via_the_service(resources):
    key = next(v for v in resources["aws_kms_key"].values())
    stmts = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    s = stmts["AgentCoreThroughServiceInThisAccount"]
    assert s["Condition"]["StringEquals"]["kms:ViaService"] == "bedrock-agentcore.us-east-1.amazonaws.com"


def test_prod_has_no_gateway(kb_resources):
    assert not any("bedrockagentcore" in t or "cognito" in t for t in kb_resources)


def test_gateway_config_is_strict():
    assert GatewayConfig().enabled is False and GatewayConfig().policy_mode == "LOG_ONLY"
    with pytest.raises(ValueError):
        GatewayConfig.model_validate({"policy_mode": "enforce"})
    with pytest.raises(ValueError):
        GatewayConfig.model_validate({"authorizer": "OAUTH"})
    cfg = load_config("dev")
    assert cfg.gateway.enabled and cfg.gateway.authorizer == "CUSTOM_JWT"
    raw = cfg.model_dump()
    raw["gateway"]["policy_mode"] = "ENFORCE"
    assert OpsAgentConfig.model_validate(raw).gateway.policy_mode == "ENFORCE"
