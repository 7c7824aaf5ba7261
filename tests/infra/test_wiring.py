"""Constructs own their wiring: one call adds an action group or a grant, in any order, and the role,
the invoke permission, the environment and the alias all follow (no parallel maps in stack.py)."""

from __future__ import annotations

import json
import re

import pytest

from opsagent_infra.config import load_config
from opsagent_infra.iam import Grant, Statement

CONFIG = load_config("dev")


def ref(rtype: str, name: str, attr: str) -> str:
    return "${" + f"{rtype}.{name}.{attr}" + "}"


@pytest.fixture(scope="module")
def build(manifest, tmp_path_factory):
    """A fresh dev stack per call (own App), with a zip for an extra action group."""
    from opsagent_infra.stack import OpsAgentStack
    from opsagent_infra.synth import new_app

    extra = {**manifest, "functions": {**manifest["functions"], "runbooks": manifest["functions"]["pods"]}}

    def make() -> OpsAgentStack:
        app = new_app(tmp_path_factory.mktemp("wiring"))
        return OpsAgentStack(app, "opsagent-dev", config=CONFIG, manifest=extra)

    return make


def synthesized(stack) -> dict:
    from cdktn import Testing

    return json.loads(Testing.synth(stack))


def function_named(tf: dict, short: str) -> tuple[str, dict]:
    [(name, fn)] = [
        (n, b)
        for n, b in tf["resource"]["aws_lambda_function"].items()
        if b["function_name"] == f"{CONFIG.name_prefix}-{short}"
    ]
    return name, fn


def role_statements(tf: dict, fn: dict) -> dict[str, dict]:
    role = re.fullmatch(r"\$\{aws_iam_role\.(.+)\.arn\}", fn["role"]).group(1)
    [policy] = [
        p
        for p in tf["resource"]["aws_iam_role_policy"].values()
        if p["role"] == ref("aws_iam_role", role, "id")
    ]
    doc = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(.+)\.json\}", policy["policy"]).group(1)
    return {s["sid"]: s for s in tf["data"]["aws_iam_policy_document"][doc]["statement"]}


def test_an_added_action_group_gets_role_permission_variable_and_a_new_release(build):
    baseline = build()
    before_release = baseline.agent.release
    stack = build()
    # added after the whole stack (alias, trigger, outputs) exists: order must not matter
    stack.add_action_group(
        "runbooks",
        description="Read runbooks.",
        grants=[stack.tables.tickets.grant_read_write(), stack.grants["cluster_scope"]],
    )
    tf = synthesized(stack)
    fn_name, fn = function_named(tf, "runbooks")
    # the grant's statement is in the new function's role, its variable in the environment
    statements = role_statements(tf, fn)
    table = next(n for n, t in tf["resource"]["aws_dynamodb_table"].items() if t["name"].endswith("-tickets"))
    assert statements["TicketsTableItems"]["resources"] == [
        ref("aws_dynamodb_table", table, "arn"),
        ref("aws_dynamodb_table", table, "arn") + "/index/*",
    ]
    env = fn["environment"]["variables"]
    assert env["OPSAGENT_TICKETS_TABLE"] == ref("aws_dynamodb_table", table, "name")
    assert env["OPSAGENT_CLUSTER_NAME"] == CONFIG.eks.cluster_name
    # only this agent may invoke it, and the agent has the action group
    [agent] = tf["resource"]["aws_bedrockagent_agent"]
    [perm] = [
        p
        for p in tf["resource"]["aws_lambda_permission"].values()
        if p["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
    ]
    assert perm["principal"] == "bedrock.amazonaws.com"
    assert perm["source_arn"] == ref("aws_bedrockagent_agent", agent, "agent_arn")
    [(group_name, group)] = [
        (n, g)
        for n, g in tf["resource"]["aws_bedrockagent_agent_action_group"].items()
        if g["action_group_name"] == "runbooks"
    ]
    assert group["action_group_executor"][0]["lambda"] == ref("aws_lambda_function", fn_name, "arn")
    # the alias waits for it and moves to a new release
    [alias] = tf["resource"]["aws_bedrockagent_agent_alias"].values()
    assert f"aws_bedrockagent_agent_action_group.{group_name}" in alias["depends_on"]
    assert stack.agent.release != before_release
    assert alias["description"].startswith(f"release {stack.agent.release} ")
    assert alias["tags"] == {"opsagent:release": stack.agent.release}


def test_a_late_grant_reaches_an_existing_function(build):
    stack = build()
    pods = stack.functions["pods"]
    grant = Grant.of(
        Statement(
            sid="ReadSomething", actions=("ssm:GetParameter",), resources=("arn:aws:ssm:::parameter/x",)
        ),
        OPSAGENT_SOMETHING="x",
    )
    pods.grant(grant)
    pods.grant(grant)  # the same grant twice is one grant
    tf = synthesized(stack)
    _, fn = function_named(tf, "pods")
    assert fn["environment"]["variables"]["OPSAGENT_SOMETHING"] == "x"
    statements = role_statements(tf, fn)
    assert statements["ReadSomething"]["actions"] == ["ssm:GetParameter"]
    assert "DescribeOwnCluster" in statements  # what it had keeps


def test_conflicting_grants_and_duplicate_groups_are_refused(build):
    stack = build()
    with pytest.raises(ValueError, match="OPSAGENT_CLUSTER_NAME is already"):
        stack.functions["pods"].grant(Grant.of(OPSAGENT_CLUSTER_NAME="another-cluster"))
    with pytest.raises(ValueError, match="duplicate statement ids"):
        stack.functions["pods"].grant(
            Grant.of(Statement(sid="DescribeOwnCluster", actions=("eks:ListClusters",), resources=("*",)))
        )
    with pytest.raises(ValueError, match="already has an action group 'pods'"):
        stack.add_action_group("pods", description="again", grants=[])
