"""Streaming the final answer (streamingConfigurations) and the returnControl answer: a DENY says why
in a TEXT body, and every result echoes actionGroup/apiPath/httpMethod exactly as Bedrock sent them.
The scripted runtime checks requests against botocore's InvokeAgent model and answers against the
returnControl it streamed (opsagent_sim.bedrock_runtime.validate_answer)."""

from __future__ import annotations

import pytest

from opsagent.agent_runtime import DENIED_BY_PERSON, GUARDRAIL_INTERVAL_CHARS, AgentSession
from opsagent_sim.bedrock_runtime import ScriptedAgentRuntime, ev

SCALE_PATH = "/namespaces/{namespace}/deployments/{deployment}/scale"


def session(fake, **kw) -> AgentSession:
    return AgentSession("AGENT12345", "ALIAS12345", "sess-1", client=fake, **kw)


def results(fake, call: int = 1) -> list[dict]:
    return [r["apiResult"] for r in fake.calls[call]["sessionState"]["returnControlInvocationResults"]]


def test_streaming_session_asks_bedrock_to_stream_with_the_guardrail_interval():
    fake = ScriptedAgentRuntime(
        [ev.chunk("Checkout "), ev.chunk("is CPU-bound. "), ev.scale_confirmation(6)], [ev.chunk("ok")]
    )
    s = session(fake, stream_final_response=True)
    turn = s.ask("why is checkout slow?")
    s.answer_confirmation(turn.pending_confirmation, True)
    expected = {"streamFinalResponse": True, "applyGuardrailInterval": GUARDRAIL_INTERVAL_CHARS}
    assert [c.get("streamingConfigurations") for c in fake.calls] == [expected, expected]
    assert turn.text == "Checkout is CPU-bound. "


def test_default_session_does_not_stream_and_interval_is_validated():
    fake = ScriptedAgentRuntime([ev.chunk("ok")])
    session(fake).ask("q")
    assert "streamingConfigurations" not in fake.calls[0]
    with pytest.raises(ValueError):
        session(fake, stream_final_response=True, guardrail_interval=0)
    fake = ScriptedAgentRuntime([ev.chunk("ok")])
    session(fake, stream_final_response=True, guardrail_interval=1000).ask("q")
    assert fake.calls[0]["streamingConfigurations"]["applyGuardrailInterval"] == 1000


def test_a_deny_carries_a_text_body_and_a_confirm_none():
    fake = ScriptedAgentRuntime(
        [
            ev.return_control_many(
                ev.scale_confirmation(6, deployment="checkout"),
                ev.scale_confirmation(9, deployment="cart"),
            )
        ],
        [ev.chunk("Scaled checkout; cart stays a proposal.")],
    )
    s = session(fake)
    s.answer_confirmation(s.ask("fix").pending_confirmation, [True, False])
    confirm, deny = results(fake)
    assert confirm["confirmationState"] == "CONFIRM" and "responseBody" not in confirm
    assert deny["confirmationState"] == "DENY"
    assert deny["responseBody"] == {"TEXT": {"body": DENIED_BY_PERSON}}
    assert "not made" in DENIED_BY_PERSON.lower() and "do not retry" in DENIED_BY_PERSON.lower()


def test_deny_text_can_be_chosen_but_not_empty():
    fake = ScriptedAgentRuntime([ev.scale_confirmation(6)], [ev.chunk("ok")])
    s = session(fake)
    pending = s.ask("fix").pending_confirmation
    with pytest.raises(ValueError):
        s.answer_confirmation(pending, False, deny_text="  ")
    s.answer_confirmation(pending, False, deny_text="Proposals only on the alarm path.")
    assert results(fake)[0]["responseBody"]["TEXT"]["body"] == "Proposals only on the alarm path."


@pytest.mark.parametrize("method", ["post", "Post", "POST"])
def test_http_method_is_echoed_exactly_as_received(method):
    confirmation = ev.return_control(
        "scaling",
        SCALE_PATH,
        method,
        {"namespace": "shop", "deployment": "checkout"},
        {"replicas": 6, "reason": "r", "dry_run": False},
    )
    fake = ScriptedAgentRuntime([confirmation], [ev.chunk("ok")])
    s = session(fake)
    pending = s.ask("fix").pending_confirmation
    assert pending.operation == "scaleDeployment", "the operation is found whatever the case"
    s.answer_confirmation(pending, False)
    assert results(fake)[0]["httpMethod"] == method


def _answer(fake: ScriptedAgentRuntime, **api) -> None:
    result = {
        "actionGroup": "scaling",
        "apiPath": SCALE_PATH,
        "httpMethod": "POST",
        "confirmationState": "DENY",
    }
    fake.invoke_agent(
        agentId="AGENT12345",
        agentAliasId="ALIAS12345",
        sessionId="sess-1",
        sessionState={
            "invocationId": api.pop("invocationId", "inv-0001"),
            "returnControlInvocationResults": [{"apiResult": {**result, **api}}],
        },
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"httpMethod": "post"}, "httpMethod"),
        ({"apiPath": "/namespaces/shop/deployments/checkout/scale"}, "apiPath"),
        ({"invocationId": "inv-9"}, "invocationId"),
        ({"responseBody": {"application/json": {"body": "{}"}}}, "only TEXT"),
    ],
)
def test_the_scripted_runtime_rejects_answers_that_do_not_echo_the_request(change, needle):
    fake = ScriptedAgentRuntime([ev.scale_confirmation(6)], [ev.chunk("never")])
    session(fake).ask("fix")
    with pytest.raises(AssertionError, match=needle):
        _answer(fake, **change)


def test_the_scripted_runtime_rejects_an_answer_nothing_asked_for():
    fake = ScriptedAgentRuntime([ev.chunk("no confirmation here")], [ev.chunk("never")])
    session(fake).ask("q")
    with pytest.raises(AssertionError, match="no open returnControl"):
        _answer(fake)


def test_one_deny_text_per_invocation():
    fake = ScriptedAgentRuntime(
        [ev.return_control_many(ev.scale_confirmation(6), ev.scale_confirmation(9, deployment="cart"))],
        [ev.chunk("ok")],
    )
    s = session(fake)
    pending = s.ask("fix").pending_confirmation
    with pytest.raises(ValueError, match="1 deny texts for 2"):
        s.answer_confirmation(pending, False, deny_text=["only one"])
    s.answer_confirmation(pending, [False, False], deny_text=["over the ceiling", "cooldown"])
    assert [r["responseBody"]["TEXT"]["body"] for r in results(fake)] == ["over the ceiling", "cooldown"]
