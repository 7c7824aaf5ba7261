"""``make verify``: the post-apply check, against botocore's Stubber.

Stubber validates every request against the ``bedrock-agent`` service model and every canned
response against its output shape, so the verifier is proven against the real API contract.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tools import verify_deploy as vd

NOW = datetime(2026, 12, 4, tzinfo=UTC)
AGENT = "AGENT12345"
ALIAS = "ALIAS12345"
GUARDRAIL = "gr0abcdef123"
KB = "KB12345678"
GROUPS = ("pods", "metrics", "scaling", "tickets")
ROLE = "arn:aws:iam::123456789012:role/opsagent-dev-agent"


def _snapshot(status: str, guardrail: dict | None, **identity: str) -> dict:
    """The fields GetAgent's ``agent`` and GetAgentVersion's ``agentVersion`` share."""
    body = {
        "agentId": AGENT,
        "agentName": "opsagent-dev",
        "agentArn": f"arn:aws:bedrock:us-east-1:123456789012:agent/{AGENT}",
        **identity,
        "agentStatus": status,
        "idleSessionTTLInSeconds": 900,
        "agentResourceRoleArn": ROLE,
        "createdAt": NOW,
        "updatedAt": NOW,
    }
    if guardrail is not None:
        body["guardrailConfiguration"] = guardrail
    return body


def _agent(status: str = "PREPARED", guardrail: dict | None = None) -> dict:
    return {"agent": _snapshot(status, guardrail, agentVersion="DRAFT")}


def _version(version: str = "3", status: str = "PREPARED", guardrail: dict | None = None) -> dict:
    return {"agentVersion": _snapshot(status, guardrail, version=version)}


def _alias(version: str = "3", status: str = "PREPARED") -> dict:
    return {
        "agentAlias": {
            "agentId": AGENT,
            "agentAliasId": ALIAS,
            "agentAliasName": "live",
            "agentAliasArn": f"arn:aws:bedrock:us-east-1:123456789012:agent-alias/{AGENT}/{ALIAS}",
            "routingConfiguration": [{"agentVersion": version}],
            "createdAt": NOW,
            "updatedAt": NOW,
            "agentAliasStatus": status,
        }
    }


def _groups(names=GROUPS, state: str = "ENABLED", token: str | None = None) -> dict:
    page: dict = {
        "actionGroupSummaries": [
            {"actionGroupId": f"AG{i:08d}", "actionGroupName": n, "actionGroupState": state, "updatedAt": NOW}
            for i, n in enumerate(names)
        ]
    }
    if token:
        page["nextToken"] = token
    return page


def _kbs(ids=(KB,), state: str = "ENABLED") -> dict:
    return {
        "agentKnowledgeBaseSummaries": [
            {"knowledgeBaseId": k, "knowledgeBaseState": state, "updatedAt": NOW} for k in ids
        ]
    }


GOOD_GUARDRAIL = {"guardrailIdentifier": GUARDRAIL, "guardrailVersion": "2"}
EXPECTED = vd.Expected(
    agent_id=AGENT,
    alias_id=ALIAS,
    guardrail_id=GUARDRAIL,
    guardrail_version="2",
    action_groups=frozenset(GROUPS),
    knowledge_base_id=KB,
)


@pytest.fixture
def client():
    c = boto3.client(
        "bedrock-agent", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def _stub_all(
    stub, *, agent=None, alias=None, version=None, draft_groups=None, groups=None, draft_kbs=None, kbs=None
):
    stub.add_response("get_agent", agent or _agent(guardrail=GOOD_GUARDRAIL), {"agentId": AGENT})
    stub.add_response(
        "list_agent_action_groups", draft_groups or _groups(), {"agentId": AGENT, "agentVersion": "DRAFT"}
    )
    stub.add_response(
        "list_agent_knowledge_bases", draft_kbs or _kbs(), {"agentId": AGENT, "agentVersion": "DRAFT"}
    )
    alias_body = alias or _alias()
    stub.add_response("get_agent_alias", alias_body, {"agentId": AGENT, "agentAliasId": ALIAS})
    routed = alias_body["agentAlias"]["routingConfiguration"][0]["agentVersion"]
    if routed == "DRAFT":
        return
    stub.add_response(
        "get_agent_version",
        version or _version(routed, guardrail=GOOD_GUARDRAIL),
        {"agentId": AGENT, "agentVersion": routed},
    )
    stub.add_response(
        "list_agent_action_groups", groups or _groups(), {"agentId": AGENT, "agentVersion": routed}
    )
    stub.add_response("list_agent_knowledge_bases", kbs or _kbs(), {"agentId": AGENT, "agentVersion": routed})


def test_everything_in_place(client):
    c, stub = client
    _stub_all(stub)
    report = vd.verify(c, EXPECTED)
    assert report.ok, report.problems
    assert "version 3: guardrail attached" in report.checked
    assert "version 3: knowledge base KB12345678 ENABLED" in report.checked


def test_guardrail_fell_off_the_released_version(client):
    """The provider bug: UpdateAgent without the guardrail, then the alias snapshots it."""
    c, stub = client
    _stub_all(stub, agent=_agent(guardrail=None), version=_version("3", guardrail=None))
    report = vd.verify(c, EXPECTED)
    assert not report.ok
    assert any(p.startswith("DRAFT: guardrail") for p in report.problems)
    assert any(p.startswith("version 3: guardrail") and "the alias serves it" in p for p in report.problems)


def test_guardrail_identifier_as_arn_and_wrong_version(client):
    c, stub = client
    arn = f"arn:aws:bedrock:us-east-1:123456789012:guardrail/{GUARDRAIL}"
    _stub_all(
        stub,
        agent=_agent(guardrail={"guardrailIdentifier": arn, "guardrailVersion": "2"}),
        version=_version("3", guardrail={"guardrailIdentifier": arn, "guardrailVersion": "1"}),
    )
    report = vd.verify(c, EXPECTED)
    assert report.problems == [
        "version 3: guardrail gr0abcdef123 v2 is not attached (found "
        f"{{'guardrailIdentifier': '{arn}', 'guardrailVersion': '1'}}); the alias serves it"
    ]


def test_unprepared_draft_and_missing_kb_and_group(client):
    """The prepare-order race: the alias moved from a draft without the KB and one group."""
    c, stub = client
    _stub_all(
        stub,
        agent=_agent(status="NOT_PREPARED", guardrail=GOOD_GUARDRAIL),
        groups=_groups(names=("pods", "metrics", "tickets")),
        kbs=_kbs(ids=()),
    )
    report = vd.verify(c, EXPECTED)
    assert "DRAFT: agent status is NOT_PREPARED (expected PREPARED)" in report.problems
    assert "version 3: action group scaling is missing" in report.problems
    assert "version 3: knowledge base KB12345678 is missing" in report.problems


def test_disabled_group_is_a_problem(client):
    c, stub = client
    _stub_all(stub, draft_groups=_groups(state="DISABLED"))
    report = vd.verify(c, EXPECTED)
    assert "DRAFT: action group pods is DISABLED" in report.problems


def test_alias_routing_to_draft_is_refused(client):
    c, stub = client
    _stub_all(stub, alias=_alias(version="DRAFT"))
    report = vd.verify(c, EXPECTED)
    assert report.problems == [f"alias {ALIAS}: routes to ['DRAFT'] (expected one numbered version)"]


def test_action_groups_are_read_across_pages(client):
    c, stub = client
    stub.add_response("get_agent", _agent(guardrail=GOOD_GUARDRAIL), {"agentId": AGENT})
    stub.add_response(
        "list_agent_action_groups",
        _groups(names=("pods", "metrics"), token="t1"),
        {"agentId": AGENT, "agentVersion": "DRAFT"},
    )
    stub.add_response(
        "list_agent_action_groups",
        _groups(names=("scaling", "tickets")),
        {"agentId": AGENT, "agentVersion": "DRAFT", "nextToken": "t1"},
    )
    stub.add_response("list_agent_knowledge_bases", _kbs(), {"agentId": AGENT, "agentVersion": "DRAFT"})
    stub.add_response("get_agent_alias", _alias(), {"agentId": AGENT, "agentAliasId": ALIAS})
    stub.add_response(
        "get_agent_version", _version(guardrail=GOOD_GUARDRAIL), {"agentId": AGENT, "agentVersion": "3"}
    )
    stub.add_response("list_agent_action_groups", _groups(), {"agentId": AGENT, "agentVersion": "3"})
    stub.add_response("list_agent_knowledge_bases", _kbs(), {"agentId": AGENT, "agentVersion": "3"})
    assert vd.verify(c, EXPECTED).ok


# --- expectations from the synthesized stack and the outputs ---------------------------------------
def _stack(groups=GROUPS, kb: bool = True) -> dict:
    res: dict = {
        "aws_bedrockagent_agent": {"agent": {"agent_name": "opsagent-dev"}},
        "aws_bedrockagent_agent_action_group": {
            f"ag_{g}": {"action_group_name": g, "agent_version": "DRAFT"} for g in groups
        },
    }
    if kb:
        res["aws_bedrockagent_agent_knowledge_base_association"] = {"kb": {"agent_version": "DRAFT"}}
    return {"provider": {"aws": [{"region": "us-east-1"}]}, "resource": res}


OUTPUTS = {
    "agent_id": {"value": AGENT},
    "agent_alias_id": {"value": ALIAS},
    "guardrail_id": {"value": GUARDRAIL},
    "guardrail_version": {"value": "2"},
    "knowledge_base_id": {"value": KB},
}


def test_expected_from_stack_and_outputs():
    assert vd.expected_from(OUTPUTS, _stack()) == EXPECTED
    no_kb = vd.expected_from({k: v for k, v in OUTPUTS.items() if k != "knowledge_base_id"}, _stack(kb=False))
    assert no_kb.knowledge_base_id is None


@pytest.mark.parametrize(
    ("outputs", "stack", "message"),
    [
        ({**OUTPUTS, "agent_id": {"value": ""}}, _stack(), "'agent_id' is missing"),
        ({k: v for k, v in OUTPUTS.items() if k != "knowledge_base_id"}, _stack(), "'knowledge_base_id'"),
        (OUTPUTS, {"resource": {}}, "declares no Bedrock agent"),
        (OUTPUTS, _stack(groups=()), "declares no action group"),
    ],
)
def test_bad_inputs_name_the_problem(outputs, stack, message):
    with pytest.raises(vd.ConfigError, match=message):
        vd.expected_from(outputs, stack)


def test_main_exit_codes(tmp_path: Path, client):
    c, stub = client
    stack_file = tmp_path / "cdk.tf.json"
    stack_file.write_text(json.dumps(_stack()))
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(OUTPUTS))
    _stub_all(stub, version=_version("3", guardrail=None))
    out = io.StringIO()
    rc = vd.main(["--stack", str(stack_file), "--outputs", str(outputs_file)], client=c, out=out)
    assert rc == 1
    assert "FAIL version 3: guardrail" in out.getvalue()

    missing = io.StringIO()
    assert vd.main(["--stack", str(tmp_path / "nope.json")], client=c, out=missing) == 2
    assert "run `make synth ENV=dev` first" in missing.getvalue()
