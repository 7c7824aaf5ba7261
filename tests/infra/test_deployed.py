"""Opt-in checks against a real deployment (OPSAGENT_AWS_TESTS=1, after `make deploy`).

They prove what synth cannot: the alias serves the newest agent version, that version carries the
committed instruction and action groups, and the functions are wired as synthesized.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(os.environ.get("OPSAGENT_AWS_TESTS") != "1", reason="needs a real AWS deployment"),
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def outputs() -> dict:
    env = os.environ.get("ENV", "dev")
    out = subprocess.run(
        ["terraform", f"-chdir={REPO / 'cdktf.out' / 'stacks' / f'opsagent-{env}'}", "output", "-json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {k: v["value"] for k, v in json.loads(out).items()}


def test_alias_serves_latest_version_with_committed_instruction(outputs):
    import boto3

    from opsagent_infra.config import load_config

    client = boto3.client("bedrock-agent")
    alias = client.get_agent_alias(agentId=outputs["agent_id"], agentAliasId=outputs["agent_alias_id"])[
        "agentAlias"
    ]
    assert outputs["agent_release"] in alias["description"]
    served = alias["routingConfiguration"][0]["agentVersion"]
    versions = client.list_agent_versions(agentId=outputs["agent_id"])["agentVersionSummaries"]
    numbered = [int(v["agentVersion"]) for v in versions if v["agentVersion"] != "DRAFT"]
    assert int(served) == max(numbered), f"alias serves {served}, newest is {max(numbered)}"
    version = client.get_agent_version(agentId=outputs["agent_id"], agentVersion=served)["agentVersion"]
    cfg = load_config(os.environ.get("ENV", "dev"))
    assert version["instruction"] == cfg.instruction_path.read_text().strip()
    groups = client.list_agent_action_groups(agentId=outputs["agent_id"], agentVersion=served)
    assert sorted(g["actionGroupName"] for g in groups["actionGroupSummaries"]) == sorted(
        outputs["function_names"].keys() - {"trigger"}
    )


# --------------------------------------------------------------------------------------------------
# Runtime checks only AWS can answer (issue 10 items 8-10, 13, 17). The requests are built with the
# same code as production (AgentSession) and their shapes are checked offline against botocore's
# bedrock-agent-runtime / bedrock-runtime models; what Bedrock *does* with them is checked here.
# The model's wording is appended to cdktf.out/live-checks.jsonl for a human to read.
# Cluster checks need OPSAGENT_LIVE_NAMESPACE and OPSAGENT_LIVE_DEPLOYMENT (a Deployment the scaling
# policy allows to scale by one); the 5xx check changes a function's configuration for a minute and
# also needs OPSAGENT_AWS_FAULT_TESTS=1.

LIVE_RECORD = REPO / "cdktf.out" / "live-checks.jsonl"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/checkout:1.4.2-20240501"
DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ARN = "arn:aws:iam::123456789012:role/opsagent-dev-scaling"


def _record(check: str, **data) -> None:
    LIVE_RECORD.parent.mkdir(parents=True, exist_ok=True)
    with LIVE_RECORD.open("a") as fh:
        fh.write(json.dumps({"check": check, **data}, default=str) + "\n")


def _live_target() -> tuple[str, str]:
    ns, dep = os.environ.get("OPSAGENT_LIVE_NAMESPACE"), os.environ.get("OPSAGENT_LIVE_DEPLOYMENT")
    if not (ns and dep):
        pytest.skip("set OPSAGENT_LIVE_NAMESPACE and OPSAGENT_LIVE_DEPLOYMENT")
    return ns, dep


def _session(outputs, name: str):
    from opsagent.agent_runtime import AgentSession, attempt_session_id

    return AgentSession(
        outputs["agent_id"],
        outputs["agent_alias_id"],
        attempt_session_id(f"live-{name}"),
        session_attributes={"trigger": "test"},
        stream_final_response=True,
    )


@pytest.fixture(scope="module")
def guardrail(outputs) -> tuple[str, str]:
    import boto3

    agent = boto3.client("bedrock-agent").get_agent(agentId=outputs["agent_id"])["agent"]
    cfg = agent.get("guardrailConfiguration") or {}
    assert cfg.get("guardrailIdentifier"), "the agent has no guardrail"
    return cfg["guardrailIdentifier"], cfg["guardrailVersion"]


@pytest.mark.parametrize("source", ["INPUT", "OUTPUT"])
def test_guardrail_keeps_image_tags_arns_and_account_ids(guardrail, source):
    """Sensitive-information filters (PHONE, AWS_SECRET_KEY, CREDIT_DEBIT_CARD_NUMBER ...) must not
    block or mask what SREs talk about: ECR images and digests, ARNs, 12-digit account ids."""
    import boto3

    text = f"checkout runs {IMAGE} ({DIGEST}); the scaler role is {ARN} in account 123456789012."
    resp = boto3.client("bedrock-runtime").apply_guardrail(
        guardrailIdentifier=guardrail[0],
        guardrailVersion=guardrail[1],
        source=source,
        content=[{"text": {"text": text}}],
    )
    _record("apply_guardrail", source=source, action=resp["action"], assessments=resp.get("assessments"))
    if resp["action"] == "GUARDRAIL_INTERVENED":
        shown = " ".join(o.get("text", "") for o in resp.get("outputs", []))
        for value in (IMAGE, DIGEST, ARN, "123456789012"):
            assert value in shown, f"the guardrail mangled {value!r}: {resp.get('assessments')}"


def _scale_request(outputs, name: str, decide: bool):
    ns, dep = _live_target()
    s = _session(outputs, name)
    turn = s.ask(f"Scale the Deployment {dep} in namespace {ns} up by one replica.")
    pending = turn.pending_confirmation
    assert pending is not None, f"the agent did not ask to scale: {turn.text[:500]}"
    assert pending.operation == "scaleDeployment" and pending.invocation_type == "USER_CONFIRMATION"
    follow = s.answer_confirmation(pending, decide)
    _record(
        name,
        http_method=pending.http_method,
        reason=pending.parameters.get("reason"),
        dry_run=pending.parameters.get("dry_run"),
        asked_text=turn.text,
        answer=follow.text,
        asked_again=follow.pending_confirmation is not None,
    )
    return pending, follow


def test_one_confirm_runs_the_scale_and_the_http_method_echo_is_accepted(outputs):
    pending, follow = _scale_request(outputs, "confirm", True)
    # The answer echoed httpMethod as received (lowercase or not): Bedrock took it and went on.
    assert not follow.failures, follow.failures
    assert any(c.operation == "scaleDeployment" for c in follow.tool_calls) or follow.text


def test_one_deny_is_a_proposal_and_not_retried(outputs):
    _, follow = _scale_request(outputs, "deny", False)
    assert follow.pending_confirmation is None, "the model asked again after a DENY"
    words = follow.text.lower()
    assert "access" not in words and "permission" not in words, follow.text[:500]


@pytest.mark.skipif(os.environ.get("OPSAGENT_AWS_FAULT_TESTS") != "1", reason="changes a function")
def test_a_tool_answering_5xx_mid_turn_does_not_abort_the_turn(outputs):
    """Point the pods function at a cluster that does not exist for one question: its answer is a
    5xx error body. If Bedrock aborts the turn (dependencyFailedException) instead of letting the
    model read it, retryable tool failures must be answered as HTTP 200 + error body."""
    import boto3

    from opsagent.agent_runtime import AgentUnavailable

    lam = boto3.client("lambda")
    name = outputs["function_names"]["pods"]
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    broken = {**env, "OPSAGENT_CLUSTER_NAME": "opsagent-live-check-missing"}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": broken})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    try:
        ns, _ = _live_target()
        try:
            turn = _session(outputs, "tool-5xx").ask(f"List the pods in namespace {ns}.")
        except AgentUnavailable as exc:
            _record("tool_5xx", aborted=True, reason=exc.reason, message=exc.message)
            pytest.fail(f"Bedrock aborted the turn on a tool 5xx ({exc.reason}): answer 200 + error body")
        _record("tool_5xx", aborted=False, answer=turn.text, failures=turn.failures)
        assert turn.text
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
