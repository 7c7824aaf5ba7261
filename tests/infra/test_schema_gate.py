"""The provider-schema gate (our ``terraform validate``): the synthesized stacks pass it, and each kind
of defect it claims to catch, planted in a copy of the real synthesized JSON, fails it with a message
that names the resource and the argument."""

from __future__ import annotations

import copy
import json
import tarfile
from io import BytesIO

import pytest
from pydantic import ValidationError

from opsagent_infra.config import AgentConfig, OpsAgentConfig, TriggerConfig
from opsagent_infra.schema_gate import (
    check_stack,
    find_cycles,
    installed_schemas,
    iter_expressions,
    load_schemas,
    main,
    rules_for,
    select_schema,
    traversals,
)


@pytest.fixture(scope="module")
def schemas():
    return installed_schemas()


@pytest.fixture(scope="module")
def schema(schemas, stack):
    return select_schema(stack, schemas)


def first(stack: dict, tf_type: str, mode: str = "resource") -> tuple[str, dict]:
    name, body = next(iter(stack[mode][tf_type].items()))
    return name, body


def findings_of(stack, schemas) -> list[str]:
    return [str(f) for f in check_stack(stack, schemas)]


def only(findings: list[str], rule: str) -> list[str]:
    assert findings, "the gate found nothing"
    assert all(f.startswith(f"[{rule}]") for f in findings), findings
    return findings


# ---- the real stacks ---------------------------------------------------------------------------------


def test_synthesized_stacks_pass_the_gate(stack, kb_stack, schemas):
    assert check_stack(stack, schemas) == []
    assert check_stack(kb_stack, schemas) == []


def test_the_schema_comes_from_the_bindings_the_stack_pins(stack, schema):
    pinned = stack["terraform"]["required_providers"]["aws"]["version"]
    assert schema.version == pinned.lstrip("= ")
    assert schema.source == "hashicorp/aws"
    for tf_type in stack["resource"]:
        assert tf_type in schema.resources
    # Terraform names come from the assembly's docs, computed-only attributes from the getters.
    invoke = schema.resources["aws_lambda_function_event_invoke_config"]
    assert invoke["args"]["function_name"]["required"] is True
    assert invoke["args"]["destination_config"]["block"] is True
    assert "arn" in schema.resources["aws_lambda_function"]["computed"]
    assert "arn" not in schema.resources["aws_lambda_function"]["args"]


def test_cli_passes_on_the_synthesized_stacks_and_fails_on_a_broken_one(synth_results, tmp_path, capsys):
    paths = [str(r.tf_json) for r in synth_results.values()]
    assert main(paths) == 0
    broken = json.loads(synth_results["dev"].tf_json.read_text())
    first(broken, "aws_sqs_queue")[1]["no_such_argument"] = 1
    bad = tmp_path / "cdk.tf.json"
    bad.write_text(json.dumps(broken))
    assert main([str(bad)]) == 1
    assert "no_such_argument is not an argument" in capsys.readouterr().err


# ---- deliberately broken copies ------------------------------------------------------------------------


def test_unknown_argument(stack, schemas):
    broken = copy.deepcopy(stack)
    name, body = first(broken, "aws_lambda_function")
    body["memory_size_mb"] = 512
    [finding] = only(findings_of(broken, schemas), "unknown-argument")
    assert f"aws_lambda_function.{name}" in finding and "memory_size_mb is not an argument" in finding


def test_unknown_argument_inside_a_block(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_cloudwatch_event_target")
    body["retry_policy"]["maximum_age"] = 60
    [finding] = only(findings_of(broken, schemas), "unknown-argument")
    assert "retry_policy.maximum_age" in finding


def test_computed_only_argument(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_lambda_function")
    body["arn"] = "arn:aws:lambda:us-east-1:123456789012:function:x"
    [finding] = only(findings_of(broken, schemas), "computed-only")
    assert "arn is computed by the provider" in finding


def test_missing_required_argument(stack, schemas):
    broken = copy.deepcopy(stack)
    name, body = first(broken, "aws_lambda_permission")
    del body["function_name"]
    [finding] = only(findings_of(broken, schemas), "missing-required")
    assert f"aws_lambda_permission.{name}: function_name is required" in finding


def test_missing_required_argument_inside_a_block(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_dynamodb_table")
    del body["attribute"][1]["type"]
    [finding] = only(findings_of(broken, schemas), "missing-required")
    assert "attribute[1].type is required" in finding


def test_bad_reference_to_an_undeclared_resource(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_cloudwatch_event_target")
    body["arn"] = "${aws_lambda_function.nope.arn}"
    [finding] = only(findings_of(broken, schemas), "bad-reference")
    assert "aws_lambda_function.nope is not declared" in finding


def test_bad_reference_to_a_missing_attribute(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_cloudwatch_event_target")
    function = first(broken, "aws_lambda_function")[0]
    body["arn"] = f"${{aws_lambda_function.{function}.function_arn}}"
    [finding] = only(findings_of(broken, schemas), "bad-reference")
    assert "aws_lambda_function has no attribute 'function_arn'" in finding


def test_bad_depends_on_target(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_cloudwatch_event_target")
    body["depends_on"] = ["aws_lambda_permission.gone"]
    [finding] = only(findings_of(broken, schemas), "bad-reference")
    assert "aws_lambda_permission.gone is not declared" in finding


def test_cycle(stack, schemas):
    broken = copy.deepcopy(stack)
    queue, queue_body = first(broken, "aws_sqs_queue")
    policy, policy_body = first(broken, "aws_sqs_queue_policy")
    assert queue in json.dumps(policy_body)  # the policy already depends on the queue
    queue_body["depends_on"] = [f"aws_sqs_queue_policy.{policy}"]
    [finding] = only(findings_of(broken, schemas), "cycle")
    assert f"aws_sqs_queue.{queue}" in finding and f"aws_sqs_queue_policy.{policy}" in finding


def test_max_one_block_given_twice(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_cloudwatch_event_target")
    body["retry_policy"] = [body["retry_policy"], body["retry_policy"]]
    [finding] = only(findings_of(broken, schemas), "nesting")
    assert "retry_policy is a block that allows at most one, got a list of 2" in finding


def test_list_written_as_a_scalar(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_lambda_function")
    body["architectures"] = "arm64"
    [finding] = only(findings_of(broken, schemas), "nesting")
    assert "architectures must be a list" in finding


def test_wrong_primitive_type(stack, schemas):
    broken = copy.deepcopy(stack)
    _, body = first(broken, "aws_lambda_function")
    body["memory_size"] = "lots"
    [finding] = only(findings_of(broken, schemas), "type")
    assert "memory_size: expected a number" in finding


@pytest.mark.parametrize(
    ("tf_type", "path", "value", "expect"),
    [
        (
            "aws_lambda_function_event_invoke_config",
            "maximum_event_age_in_seconds",
            21601,
            "between 60 and 21600",
        ),
        ("aws_lambda_function_event_invoke_config", "maximum_retry_attempts", 3, "between 0 and 2"),
        ("aws_cloudwatch_event_target", "retry_policy.maximum_event_age_in_seconds", 86401, "60 and 86400"),
        ("aws_cloudwatch_log_group", "retention_in_days", 42, "is not one of"),
        ("aws_bedrockagent_agent", "idle_session_ttl_in_seconds", 3601, "between 60 and 3600"),
        ("aws_bedrockagent_agent", "agent_name", "ops agent!", "does not match"),
        ("aws_bedrock_guardrail", "name", "g" * 51, "length 51"),
        ("aws_lambda_function", "function_name", "f" * 65, "length 65"),
        ("aws_dynamodb_table", "billing_mode", "ON_DEMAND", "is not one of"),
    ],
)
def test_value_out_of_range(stack, schemas, tf_type, path, value, expect):
    broken = copy.deepcopy(stack)
    name, body = first(broken, tf_type)
    *parents, leaf = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    target[leaf] = value
    findings = only(findings_of(broken, schemas), "value")
    assert len(findings) == 1, findings
    assert f"{tf_type}.{name}: {path}: " in findings[0] and expect in findings[0]
    assert "internal/service/" in findings[0]  # names the provider source of the rule


def test_provider_pinned_to_a_version_the_bindings_do_not_describe(stack, schemas):
    broken = copy.deepcopy(stack)
    broken["terraform"]["required_providers"]["aws"]["version"] = "5.0.0"
    [finding] = only(findings_of(broken, schemas), "provider-version")
    assert "'5.0.0'" in finding and "generated for" in finding


# ---- config validation agrees with the provider rules ------------------------------------------------


def _bounds(model, field_name) -> tuple[int, int]:
    meta = model.model_fields[field_name].metadata
    lo = next(m.ge for m in meta if hasattr(m, "ge"))
    hi = next(m.le for m in meta if hasattr(m, "le"))
    return lo, hi


@pytest.mark.parametrize(
    ("model", "field_name", "targets"),
    [
        # one value feeds both the EventBridge target and the Lambda async config (trigger.py)
        (
            TriggerConfig,
            "maximum_event_age_seconds",
            [
                ("aws_cloudwatch_event_target", "retry_policy.maximum_event_age_in_seconds"),
                ("aws_lambda_function_event_invoke_config", "maximum_event_age_in_seconds"),
            ],
        ),
        (
            TriggerConfig,
            "maximum_retry_attempts",
            [("aws_cloudwatch_event_target", "retry_policy.maximum_retry_attempts")],
        ),
        (
            AgentConfig,
            "idle_session_ttl_seconds",
            [("aws_bedrockagent_agent", "idle_session_ttl_in_seconds")],
        ),
    ],
)
def test_config_ranges_are_within_the_provider_rules(model, field_name, targets):
    lo, hi = _bounds(model, field_name)
    for tf_type, path in targets:
        [rule] = rules_for(tf_type, path)
        assert rule.check(lo) is None and rule.check(hi) is None, (field_name, tf_type, path, rule.describe)
    with pytest.raises(ValidationError):
        model(**{field_name: hi + 1})


def test_event_age_above_the_lambda_limit_is_rejected_by_config():
    TriggerConfig(maximum_event_age_seconds=21600)
    with pytest.raises(ValidationError, match="21600"):
        TriggerConfig(maximum_event_age_seconds=21601)


def test_idle_session_ttl_above_the_provider_limit_is_rejected_by_config():
    AgentConfig(idle_session_ttl_seconds=3600)
    with pytest.raises(ValidationError, match="3600"):
        AgentConfig(idle_session_ttl_seconds=3601)


def test_log_retention_and_alias_name_agree_with_the_provider():
    from opsagent_infra.config import LOG_RETENTION_DAYS

    [retention] = rules_for("aws_cloudwatch_log_group", "retention_in_days")
    assert all(retention.check(days) is None for days in LOG_RETENTION_DAYS)
    [alias] = rules_for("aws_bedrockagent_agent_alias", "agent_alias_name")
    assert alias.check(AgentConfig().alias_name) is None
    assert alias.check("bad alias") is not None
    with pytest.raises(ValidationError):
        AgentConfig(alias_name="bad alias")


def test_name_prefix_at_its_maximum_fits_every_derived_name():
    """The longest prefix the config accepts still gives names the provider accepts."""
    from opsagent_infra.naming import Names

    prefix = "a" * OpsAgentConfig.model_fields["name_prefix"].metadata[0].max_length
    names = Names(prefix)
    checks = [
        ("aws_lambda_function", "function_name", names.function("trigger")),
        ("aws_bedrock_guardrail", "name", names.guardrail),
        ("aws_bedrockagent_agent", "agent_name", names.agent),
        ("aws_cloudwatch_event_rule", "name", names.alarm_rule),
        ("aws_cloudwatch_log_group", "name", names.log_group("trigger")),
        ("aws_dynamodb_table", "name", names.table("incidents")),
        ("aws_kms_alias", "name", names.key_alias),
    ]
    for tf_type, path, value in checks:
        [rule] = rules_for(tf_type, path)
        assert rule.check(value) is None, (tf_type, path, value)


# ---- pieces ------------------------------------------------------------------------------------------


def test_expressions_and_traversals():
    text = (
        'arn:${data.aws_partition.p.partition}:x:${jsonencode({a = "b.c"})}/${aws_s3_bucket.b[0].arn}'
        "$${lit.x}"
    )
    exprs = list(iter_expressions(text))
    assert exprs == ["data.aws_partition.p.partition", 'jsonencode({a = "b.c"})', "aws_s3_bucket.b[0].arn"]
    assert [t for e in exprs for t in traversals(e)] == [
        ["data", "aws_partition", "p", "partition"],
        ["aws_s3_bucket", "b", "arn"],
    ]


def test_find_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]


def test_assembly_is_read_from_a_tgz_and_cached(tmp_path, monkeypatch):
    """A minimal assembly in the layout of the bindings packages: one resource and its config struct."""
    monkeypatch.setenv("OPSAGENT_SCHEMA_CACHE", str(tmp_path / "cache"))
    link = "https://registry.terraform.io/providers/hashicorp/aws/1.2.3/docs/resources/thing"
    assembly = {
        "name": "@x/aws",
        "version": "0.0.1",
        "types": {
            "x.Thing": {
                "kind": "class",
                "base": "cdktn.TerraformResource",
                "docs": {"summary": f"Represents a {{@link {link} aws_thing}}."},
                "initializer": {"parameters": [{"name": "config", "type": {"fqn": "x.ThingConfig"}}]},
                "properties": [
                    {"name": "tfResourceType", "static": True, "type": {"primitive": "string"}},
                    {"name": "arn", "type": {"primitive": "string"}},
                    {"name": "s3Key", "type": {"primitive": "string"}},
                    {"name": "s3KeyInput", "optional": True, "type": {"primitive": "string"}},
                ],
            },
            "x.ThingConfig": {
                "kind": "interface",
                "datatype": True,
                "interfaces": ["cdktn.TerraformMetaArguments"],
                "properties": [
                    {
                        "name": "s3Key",
                        "type": {"primitive": "string"},
                        "docs": {
                            "summary": f"Docs at Terraform Registry: {{@link {link}#s3_key Thing#s3_key}}."
                        },
                    }
                ],
            },
        },
    }
    raw = json.dumps(assembly).encode()
    tgz = tmp_path / "pkg" / "_jsii" / "aws@0.0.1.jsii.tgz"
    tgz.parent.mkdir(parents=True)
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("package/.jsii")
        info.size = len(raw)
        tar.addfile(info, BytesIO(raw))
    [schema] = load_schemas(tgz)
    assert (schema.source, schema.version) == ("hashicorp/aws", "1.2.3")
    assert schema.resources["aws_thing"] == {
        "args": {"s3_key": {"required": True, "block": False, "type": {"t": "string"}}},
        "computed": ["arn"],
    }
    assert list((tmp_path / "cache").glob("*.json"))
    [again] = load_schemas(tgz)  # from the cache
    assert again.resources == schema.resources
