"""Environment configuration: valid files load; every problem names file + field + what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from opsagent_infra.config import ConfigError, load_config

ENV_DIR = Path(__file__).resolve().parents[2] / "infra" / "environments"


def _write(tmp_path: Path, doc: dict, env: str = "dev") -> Path:
    path = tmp_path / f"{env}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def dev_doc() -> dict:
    return yaml.safe_load((ENV_DIR / "dev.yaml").read_text())


def _problems(tmp_path, doc, env="dev") -> str:
    with pytest.raises(ConfigError) as err:
        load_config(env, path=_write(tmp_path, doc, env))
    assert str(tmp_path) in str(err.value) or f"{env}.yaml" in str(err.value)
    return "\n".join(err.value.problems)


@pytest.mark.parametrize("env", sorted(p.stem for p in ENV_DIR.glob("*.yaml")))
def test_committed_environments_are_valid(env):
    cfg = load_config(env)
    assert cfg.env == env
    json.loads(cfg.policy_json)
    assert json.loads(cfg.tickets_json)["backend"]
    assert json.loads(cfg.trigger_json)["mutation_mode"] in ("propose", "confirm")


def test_env_variable_selects_the_file(monkeypatch):
    monkeypatch.delenv("OPSAGENT_ENV", raising=False)
    monkeypatch.setenv("ENV", "prod")
    assert load_config().name_prefix == "opsagent-prod"
    monkeypatch.setenv("OPSAGENT_ENV", "dev")  # what `make synth` passes; wins over ENV
    assert load_config().env == "dev"
    monkeypatch.delenv("OPSAGENT_ENV")
    monkeypatch.delenv("ENV")
    assert load_config().env == "dev"


def test_unknown_environment_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        load_config("nope")
    assert "dev" in str(err.value) and "nope.yaml" in str(err.value)


def test_dev_and_prod_use_a_geo_profile_of_their_region():
    assert load_config("dev").model.id.startswith("us.") and load_config("dev").model.is_profile
    assert load_config("prod").model.id.startswith("eu.") and load_config("prod").model.is_profile
    assert load_config("prod").ticket_secret_arn.startswith("arn:aws:secretsmanager:")


def test_missing_required_field_is_named(tmp_path, dev_doc):
    del dev_doc["eks"]["cluster_name"]
    assert "eks.cluster_name: Field required" in _problems(tmp_path, dev_doc)


def test_every_problem_is_reported_at_once(tmp_path, dev_doc):
    dev_doc["log_retention_days"] = 42
    dev_doc["region"] = "mars-1"
    dev_doc["surprise"] = True
    problems = _problems(tmp_path, dev_doc)
    assert "log_retention_days" in problems and "42" not in problems.split("log_retention_days")[0]
    assert "region: 'mars-1' is not an AWS region" in problems
    assert "surprise: Extra inputs are not permitted" in problems


def test_inference_profile_needs_underlying_models(tmp_path, dev_doc):
    # an unlisted profile: nothing to derive the routed models from
    dev_doc["model"] = {"id": "us.anthropic.claude-future-v1:0", "allow_unlisted": True}
    assert "underlying_model_arns" in _problems(tmp_path, dev_doc)
    dev_doc["model"]["underlying_model_arns"] = ["arn:aws:s3:::bucket"]
    assert "not foundation-model ARNs" in _problems(tmp_path, dev_doc)


def test_foundation_model_rejects_underlying_arns(tmp_path, dev_doc):
    dev_doc["model"] = {
        "id": "anthropic.claude-haiku-4-5-20251001-v1:0",
        "underlying_model_arns": ["arn:aws:bedrock:us-east-1::foundation-model/x"],
    }
    assert "only applies to an inference profile" in _problems(tmp_path, dev_doc)


def test_scaling_policy_is_validated_with_the_runtime_model(tmp_path, dev_doc):
    dev_doc["scaling_policy"]["max_replicas"] = 0
    dev_doc["scaling_policy"]["max_stepp"] = 3
    problems = _problems(tmp_path, dev_doc)
    assert "scaling_policy" in problems and "max_replicas" in problems and "max_stepp" in problems


def test_scaling_namespaces_must_be_readable_namespaces(tmp_path, dev_doc):
    dev_doc["scaling_policy"]["allowed_namespaces"] = ["shop", "billing"]
    assert "['billing'] are not in eks.allowed_namespaces" in _problems(tmp_path, dev_doc)


def test_remote_ticket_backend_needs_a_secret_and_no_inline_credentials(tmp_path, dev_doc):
    dev_doc["tickets"] = {"backend": "jira", "base_url": "https://x.atlassian.net", "project_key": "OPS"}
    assert "secret_arn" in _problems(tmp_path, dev_doc)
    dev_doc["tickets"]["secret_arn"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jira-AbCdEf"
    dev_doc["tickets"]["api_token"] = "hunter2"
    assert "api_token" in _problems(tmp_path, dev_doc)


def test_trigger_settings_are_validated_with_the_trigger_model(tmp_path, dev_doc):
    dev_doc["trigger"]["settings"] = {"flap_window_minutes": -1}
    assert "trigger.settings" in _problems(tmp_path, dev_doc)
    dev_doc["trigger"]["settings"] = {"mutation_mode": "confirm"}
    assert "set mutation_mode at trigger.mutation_mode" in _problems(tmp_path, dev_doc)


def test_knowledge_base_on_without_an_id_is_created_by_the_stack(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = {"enabled": True, "standby_replicas": False}
    kb = load_config("dev", path=_write(tmp_path, dev_doc)).knowledge_base
    assert kb.creates and kb.knowledge_base_id is None and kb.standby_replicas is False
    assert (kb.private_network, kb.vpc_endpoint_ids, kb.subnet_ids, kb.security_group_ids) == (
        False,
        [],
        [],
        [],
    )
    dev_doc["knowledge_base"] = {"enabled": True, "knowledge_base_id": "KB12345678"}
    kb = load_config("dev", path=_write(tmp_path, dev_doc)).knowledge_base
    assert kb.enabled and not kb.creates
    assert not load_config("dev").knowledge_base.creates


PRIVATE = {
    "enabled": True,
    "private_network": True,
    "vpc_endpoint_ids": ["vpce-0123456789abcdef0"],
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


def test_private_network_knowledge_base(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = PRIVATE
    kb = load_config("dev", path=_write(tmp_path, dev_doc)).knowledge_base
    assert kb.private_network and kb.subnet_ids == PRIVATE["subnet_ids"]


@pytest.mark.parametrize(
    "missing",
    [("vpc_endpoint_ids",), ("subnet_ids",), ("security_group_ids",), ("vpc_endpoint_ids", "subnet_ids")],
)
def test_private_network_needs_endpoints_subnets_and_security_groups(tmp_path, dev_doc, missing):
    dev_doc["knowledge_base"] = {k: v for k, v in PRIVATE.items() if k not in missing}
    problems = _problems(tmp_path, dev_doc)
    assert problems.startswith("knowledge_base: private_network: true needs "), problems
    for name in ("vpc_endpoint_ids", "subnet_ids", "security_group_ids"):
        assert (f"{name} (" in problems) is (name in missing), problems


def test_network_settings_without_private_network_are_refused(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = {**PRIVATE, "private_network": False}
    problems = _problems(tmp_path, dev_doc)
    assert (
        "vpc_endpoint_ids, subnet_ids, security_group_ids are only used with private_network: true"
        in problems
    )


def test_malformed_network_ids_are_named(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = {
        **PRIVATE,
        "vpc_endpoint_ids": ["vpc-123"],
        "subnet_ids": ["subnet-1", "subnet-1"],
    }
    problems = _problems(tmp_path, dev_doc)
    assert (
        "knowledge_base.vpc_endpoint_ids: not valid ids (e.g. vpce-0123456789abcdef0): ['vpc-123']"
        in problems
    )
    assert "knowledge_base.subnet_ids: not valid ids" in problems


def test_existing_knowledge_base_refuses_settings_of_a_created_one(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = {
        "enabled": True,
        "knowledge_base_id": "KB12345678",
        "standby_replicas": False,
    }
    problems = _problems(tmp_path, dev_doc)
    assert "standby_replicas only apply when the stack creates the knowledge base" in problems
    dev_doc["knowledge_base"] = {"enabled": True, "knowledge_base_id": "not-an-id"}
    assert "knowledge_base.knowledge_base_id" in _problems(tmp_path, dev_doc)


def test_knowledge_base_description_is_bounded(tmp_path, dev_doc):
    dev_doc["knowledge_base"] = {"enabled": True, "description": "x" * 201}
    assert "knowledge_base.description" in _problems(tmp_path, dev_doc)


def test_s3_backend_needs_bucket_and_key(tmp_path, dev_doc):
    dev_doc["backend"] = {"type": "s3"}
    assert "bucket and key" in _problems(tmp_path, dev_doc)


def test_env_name_mismatch_and_bad_yaml(tmp_path, dev_doc):
    dev_doc["env"] = "prod"
    assert "says 'prod'" in _problems(tmp_path, dev_doc)
    bad = tmp_path / "dev.yaml"
    bad.write_text("region: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("dev", path=bad)


def test_bad_names_are_rejected(tmp_path, dev_doc):
    dev_doc["name_prefix"] = "Ops--Agent"
    dev_doc["eks"]["allowed_namespaces"] = ["shop", "Kube_System"]
    problems = _problems(tmp_path, dev_doc)
    assert "name_prefix" in problems and "Kube_System" in problems


def test_scaling_timeout_must_stay_below_its_idempotency_lease():
    import pydantic

    from opsagent_infra.config import LambdaConfig

    LambdaConfig.model_validate({"overrides": {"scaling": {"timeout_seconds": 59}}})
    for bad in ({"overrides": {"scaling": {"timeout_seconds": 60}}}, {"defaults": {"timeout_seconds": 300}}):
        with pytest.raises(pydantic.ValidationError, match="idempotency"):
            LambdaConfig.model_validate(bad)


# --- issue 10 item 1: the trigger's timeout must hold an agent session + reserve_seconds ----------
def test_trigger_defaults_to_its_own_timeout_not_the_tools_30s():
    prod = load_config("prod")
    assert prod.functions.defaults.timeout_seconds == 30  # the tools
    assert prod.functions.for_function("trigger").timeout_seconds == 300
    assert prod.functions.for_function("pods").timeout_seconds == 30


@pytest.mark.parametrize(
    ("functions", "settings", "field"),
    [
        (
            {"overrides": {"trigger": {"timeout_seconds": 30}}},
            {},
            "functions.overrides.trigger.timeout_seconds",
        ),
        ({"defaults": {"timeout_seconds": 59}}, {}, "functions.defaults.timeout_seconds"),
        ({"overrides": {"trigger": {"timeout_seconds": 300}}}, {"reserve_seconds": 240}, "reserve_seconds"),
    ],
)
def test_a_trigger_timeout_that_cannot_fit_an_agent_session_is_rejected(
    tmp_path, dev_doc, functions, settings, field
):
    dev_doc["functions"] = functions
    dev_doc["trigger"]["settings"].update(settings)
    problems = _problems(tmp_path, dev_doc)
    assert "cannot fit an agent session" in problems and field in problems
    assert "trigger.settings.reserve_seconds" in problems


def test_trigger_timeout_rule_accepts_the_boundary(tmp_path, dev_doc):
    from opsagent_infra.config import MIN_AGENT_SESSION_SECONDS

    dev_doc["functions"] = {"overrides": {"trigger": {"timeout_seconds": 60 + MIN_AGENT_SESSION_SECONDS}}}
    load_config("dev", path=_write(tmp_path, dev_doc))
    dev_doc["functions"]["overrides"]["trigger"]["timeout_seconds"] -= 1
    assert "cannot fit" in _problems(tmp_path, dev_doc)


# --- issue 10 item 6: reserved concurrency is opt-in, validated against a configured limit --------
def test_reserved_concurrency_is_opt_in():
    for env in ("dev", "prod"):
        cfg = load_config(env)
        for name in ("pods", "metrics", "scaling", "tickets", "trigger"):
            assert cfg.functions.for_function(name).reserved_concurrency is None, (env, name)


def test_reservations_must_fit_the_configured_account_limit(tmp_path, dev_doc):
    dev_doc["functions"] = {
        "account_concurrency_limit": 10,
        "defaults": {"reserved_concurrency": 1},
        "overrides": {"trigger": {"timeout_seconds": 300, "reserved_concurrency": 2}},
    }
    problems = _problems(tmp_path, dev_doc)
    assert "account_concurrency_limit" in problems and "reserved_concurrency totals 6" in problems
    dev_doc["functions"]["account_concurrency_limit"] = 106
    load_config("dev", path=_write(tmp_path, dev_doc))
    dev_doc["functions"]["account_concurrency_limit"] = 105
    assert "leaves 5" in _problems(tmp_path, dev_doc)


# --- issue 10 item 7: a current agent model, validated against the known list ----------------------
def test_known_profile_derives_the_models_it_routes_to():
    dev = load_config("dev")
    assert dev.model.underlying_model_arns == [
        f"arn:aws:bedrock:{r}::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
        for r in ("us-east-1", "us-east-2", "us-west-2")
    ]
    assert "eu-west-1" in " ".join(load_config("prod").model.underlying_model_arns)


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "end of life on 2026-06-19"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "end of life on 2026-09-10"),
        (
            "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            "the eu. inference profile cannot be called from us-east-1",
        ),
        ("anthropic.claude-v2", "is not a known agent model"),
    ],
)
def test_an_old_unknown_or_misplaced_model_is_rejected(tmp_path, dev_doc, model_id, expected):
    dev_doc["model"] = {"id": model_id}
    if model_id.startswith(("us.", "eu.")) and "haiku-4-5" not in model_id:
        dev_doc["model"]["underlying_model_arns"] = [
            f"arn:aws:bedrock:us-east-1::foundation-model/{model_id[3:]}"
        ]
    problems = _problems(tmp_path, dev_doc)
    assert expected in problems and "model.id" in problems


def test_allow_unlisted_is_the_explicit_override(tmp_path, dev_doc):
    dev_doc["model"] = {"id": "anthropic.claude-v2", "allow_unlisted": True}
    assert load_config("dev", path=_write(tmp_path, dev_doc)).model.id == "anthropic.claude-v2"


def test_agent_regions_and_lifecycle_dates():
    import datetime as dt

    from opsagent_infra.models import model_problems

    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert "Legacy" in " ".join(model_problems(model, "us-east-1", today=dt.date(2026, 1, 1)))
    assert "end of life" in " ".join(model_problems(model, "us-east-1", today=dt.date(2026, 6, 19)))
    assert model_problems("global.anthropic.claude-haiku-4-5-20251001-v1:0", "ca-central-1") == []
    assert "not offered in eu-north-1" in " ".join(
        model_problems("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "eu-north-1")
    )
