"""Issue 10 items 2, 3, 11: what `terraform apply` does to the agent, asserted on the synthesized JSON.

* prepare order: the alias only moves after one last prepare of a draft that has every action group
  and the knowledge base, and a change to any of them re-runs that prepare;
* guardrail immunity: every change UpdateAgent sends (instruction, model, TTL) also changes the
  guardrail block, so the pinned provider cannot leave the guardrail out of the call;
* AMAZON.UserInput and the environment's namespaces in the instruction.
"""

from __future__ import annotations

import json

import pytest

from opsagent_infra.config import load_config

AG = "aws_bedrockagent_agent_action_group"
KB_ASSOC = "aws_bedrockagent_agent_knowledge_base_association"


def _deps(resources: dict) -> dict[str, set[str]]:
    """address -> addresses it depends on (depends_on + ${type.name...} references)."""
    graph: dict[str, set[str]] = {}
    for rtype, items in resources.items():
        for name, body in items.items():
            text = json.dumps(body)
            refs = {
                f"{t}.{n}"
                for t, group in resources.items()
                for n in group
                if "${" + f"{t}.{n}." in text or f'"{t}.{n}"' in json.dumps(body.get("depends_on", []))
            }
            graph[f"{rtype}.{name}"] = refs - {f"{rtype}.{name}"}
    return graph


def _ancestors(graph: dict[str, set[str]], node: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[node])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
    return seen


def _user_input(resources: dict) -> tuple[str, dict]:
    [(name, body)] = [
        (n, b)
        for n, b in resources[AG].items()
        if b.get("parent_action_group_signature") == "AMAZON.UserInput"
    ]
    return f"{AG}.{name}", body


@pytest.fixture(params=["dev", "prod"])
def env_resources(request, resources, kb_resources):
    return request.param, (resources if request.param == "dev" else kb_resources)


# --- item 3: prepare order --------------------------------------------------------------------------
def test_every_prepare_is_ordered_and_the_user_input_group_prepares_last(env_resources):
    env, res = env_resources
    graph = _deps(res)
    ui, body = _user_input(res)
    agent = f"aws_bedrockagent_agent.{next(iter(res['aws_bedrockagent_agent']))}"
    groups = [f"{AG}.{n}" for n in res[AG] if f"{AG}.{n}" != ui]
    kb = [f"{KB_ASSOC}.{n}" for n in res.get(KB_ASSOC, {})]
    assert (env == "prod") == bool(kb)
    members = [agent, *groups, *kb]
    # one chain: of any two members, one waits for the other (no two PrepareAgent calls race, and the
    # association is made on a draft that already has every action group)
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            assert b in _ancestors(graph, a) or a in _ancestors(graph, b), (a, b)
    for assoc in kb:
        assert set(groups) <= _ancestors(graph, assoc)
    # the UserInput group is applied after all of them, prepares the draft, and is re-created (so
    # prepares again) whenever any of them changes
    assert set(members) <= _ancestors(graph, ui)
    assert body["prepare_agent"] is True and body["agent_version"] == "DRAFT"
    assert sorted(body["lifecycle"]["replace_triggered_by"]) == sorted(members)
    # the alias waits for that last prepare
    [alias] = res["aws_bedrockagent_agent_alias"].values()
    assert ui in alias["depends_on"] and set(members) <= set(alias["depends_on"])


def test_knowledge_base_association_never_prepares_itself(kb_resources):
    """The provider's association resource has no prepare_agent: the chain above is what prepares."""
    for body in kb_resources[KB_ASSOC].values():
        assert "prepare_agent" not in body


# --- item 11: AMAZON.UserInput + rendered namespaces --------------------------------------------------
def test_user_input_group_is_the_bare_builtin(resources):
    _, body = _user_input(resources)
    assert body["action_group_state"] == "ENABLED"
    # Bedrock requires description, apiSchema and executor to be blank for AMAZON.UserInput
    for blank in ("description", "api_schema", "action_group_executor", "function_schema"):
        assert blank not in body


@pytest.mark.parametrize(
    ("env", "readable", "scalable"),
    [
        ("dev", "shop, payments", "shop; protected: payments."),
        ("prod", "shop, checkout, payments", "checkout, shop."),
    ],
)
def test_instruction_names_the_environments_namespaces(resources, kb_resources, env, readable, scalable):
    res = resources if env == "dev" else kb_resources
    [agent] = res["aws_bedrockagent_agent"].values()
    text = agent["instruction"]
    assert f"Readable namespaces: {readable}." in text
    assert f"Scalable: {scalable}" in text
    cfg = load_config(env)
    policy_max = cfg.scaling_policy.get("max_replicas", 10)
    assert f"-{policy_max}, at most {cfg.scaling_policy.get('max_step', 3)} per change" in text
    assert "ask, never guess" in text
    assert len(text) <= 4000


def test_a_changed_namespace_list_changes_the_instruction_and_the_release():
    from opsagent_infra.instruction import render_instruction

    cfg = load_config("dev")
    other = cfg.model_copy(update={"eks": cfg.eks.model_copy(update={"allowed_namespaces": ["shop", "web"]})})
    assert "shop, web." in render_instruction("x", other)
    assert render_instruction("x", other) != render_instruction("x", cfg)


# --- item 2: guardrail immunity ------------------------------------------------------------------------
def _agent_only(config, instruction: str, tmp_path) -> dict:
    """Synthesize just the agent (with its key and guardrail) for one configuration."""
    from cdktn import TerraformStack, Testing
    from cdktn_aws.provider import AwsProvider

    from opsagent_infra.constructs.agent import Agent
    from opsagent_infra.constructs.data import EncryptionKey
    from opsagent_infra.naming import Arns, Names
    from opsagent_infra.synth import new_app

    app = new_app(tmp_path)
    stack = TerraformStack(app, "agent-only")
    AwsProvider(stack, "aws", region=config.region)
    names = Names(config.name_prefix)
    arns = Arns(partition="aws", region=config.region, account="123456789012")
    key = EncryptionKey(stack, "kms", names=names, arns=arns, deletion_window_days=30)
    Agent(stack, "agent", config=config, names=names, arns=arns, key=key, instruction=instruction)
    return json.loads(Testing.synth(stack))["resource"]


def _guardrail_block(res: dict) -> tuple[str, str]:
    [agent] = res["aws_bedrockagent_agent"].values()
    [version] = res["aws_bedrock_guardrail_version"].values()
    [block] = agent["guardrail_configuration"]
    # the block names the version resource; what makes its value change is the version's
    # description (RequiresReplace: a new description is a new guardrail version number)
    assert block["guardrail_version"].startswith("${aws_bedrock_guardrail_version.")
    return version["description"], block["guardrail_identifier"]


def test_guardrail_block_changes_whenever_instruction_model_or_ttl_changes(tmp_path_factory):
    cfg = load_config("dev")
    base_text = "You are OpsAgent. " * 10
    variants = {
        "base": (cfg, base_text),
        "instruction": (cfg, base_text + "One more rule."),
        "model": (
            cfg.model_copy(
                update={"model": cfg.model.model_copy(update={"id": "us.anthropic.claude-other-v1:0"})}
            ),
            base_text,
        ),
        "ttl": (
            cfg.model_copy(update={"agent": cfg.agent.model_copy(update={"idle_session_ttl_seconds": 1800})}),
            base_text,
        ),
    }
    described = {
        name: _guardrail_block(_agent_only(c, text, tmp_path_factory.mktemp(name)))[0]
        for name, (c, text) in variants.items()
    }
    # every UpdateAgent-triggering change gives a new guardrail version, so the block always changes
    assert len(set(described.values())) == len(described), described
    # and an unchanged configuration keeps its version (no churn)
    again = _guardrail_block(_agent_only(cfg, base_text, tmp_path_factory.mktemp("again")))[0]
    assert again == described["base"]


def test_guardrail_version_is_kept_for_older_agent_versions(resources):
    [version] = resources["aws_bedrock_guardrail_version"].values()
    assert version["skip_destroy"] is True
    assert version["lifecycle"]["create_before_destroy"] is True
    assert len(version["description"]) <= 200


# --- item 5: least privilege on the key and the VPC reads -------------------------------------------
def test_key_policy_lets_bedrock_encrypt_agent_resources_of_this_account_only(resources):
    [key] = resources["aws_kms_key"].values()
    policy = json.loads(key["policy"]) if isinstance(key["policy"], str) else key["policy"]
    text = json.dumps(policy)
    assert "BedrockAgentResourcesForThisAccount" in text
    [stmt] = [s for s in policy["Statement"] if s.get("Sid") == "BedrockAgentResourcesForThisAccount"]
    assert stmt["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert "kms:EncryptionContext:aws:bedrock:arn" in json.dumps(stmt["Condition"])
    assert "aws:SourceAccount" in json.dumps(stmt["Condition"])


def test_invokers_get_kms_only_with_this_agents_encryption_context(stack):
    from opsagent_infra.policy_scan import StackPolicies

    fns = stack["resource"]["aws_lambda_function"]
    [trigger] = [f for f in fns.values() if f["function_name"].endswith("-trigger")]
    docs = stack["data"]["aws_iam_policy_document"]
    statements = [
        s for d in docs.values() for s in d["statement"] if s.get("sid") == "AgentSessionEncryption"
    ]
    assert len(statements) == 1
    [cond] = statements[0]["condition"]
    assert cond["variable"] == "kms:EncryptionContext:aws:bedrock:arn"
    assert cond["values"][0].startswith("${aws_bedrockagent_agent.")
    # the statement is in the trigger's role (the one InvokeAgent caller this stack creates)
    trigger_role = trigger["role"].removeprefix("${aws_iam_role.").removesuffix(".arn}")
    assert StackPolicies.from_tf(stack).actions_of(trigger_role)["kms:GenerateDataKey"]
