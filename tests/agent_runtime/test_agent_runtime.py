"""AgentSession against a scripted bedrock-agent-runtime whose requests and events are validated
against botocore's InvokeAgent model (moto has no InvokeAgent; Stubber rejects event streams)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsagent.agent_runtime import (
    OBSERVATION_CHARS,
    SESSION_ID,
    AgentSession,
    AgentUnavailable,
    StreamEvent,
    session_id_for,
)
from opsagent_sim.bedrock_runtime import ScriptedAgentRuntime, ev, validate_event, validate_request

POD_PATH = "/namespaces/{namespace}/pods"
SCALE_PATH = "/namespaces/{namespace}/deployments/{deployment}/scale"


def session(fake, **kw) -> AgentSession:
    return AgentSession("AGENT12345", "ALIAS12345", "sess-1", client=fake, **kw)


def investigation() -> list:
    return [
        ev.rationale("Look at the checkout pods first.", trace_id="t-1"),
        ev.tool_call(
            "pods", POD_PATH, "GET", {"namespace": "shop", "selector": "app=checkout"}, trace_id="t-1"
        ),
        ev.usage(1200, 80, trace_id="t-1"),
        ev.observation('{"pods":[{"name":"checkout-1","phase":"Running","restarts":7}]}', trace_id="t-1"),
        ev.rationale("Restarts are high; check CPU.", trace_id="t-2"),
        ev.tool_call(
            "metrics",
            "/metrics",
            "GET",
            {"metric_namespace": "ContainerInsights", "metric_name": "pod_cpu_utilization"},
            trace_id="t-2",
        ),
        ev.observation('{"summary":{"max":97.5,"trend":"rising"}}', trace_id="t-2"),
        *ev.kb_lookup(["s3://opsagent-kb/runbooks/cpu-saturation.md"]),
        ev.usage(2300, 150, trace_id="t-3"),
        ev.final("checkout is CPU-saturated.", trace_id="t-3"),
        ev.chunk("checkout is "),
        ev.chunk("CPU-saturated."),
    ]


def test_full_turn_is_parsed_and_streamed():
    fake = ScriptedAgentRuntime(investigation())
    seen: list[StreamEvent] = []
    turn = session(
        fake, on_event=seen.append, session_attributes={"incident_id": "inc-1", "trigger": "cli"}
    ).ask("why is checkout slow?")
    assert turn.text == "checkout is CPU-saturated."
    assert turn.rationale == ["Look at the checkout pods first.", "Restarts are high; check CPU."]
    pods, metrics = turn.tool_calls
    assert (pods.action_group, pods.api_path, pods.verb, pods.operation) == (
        "pods",
        POD_PATH,
        "GET",
        "listPods",
    )
    assert pods.parameters == {"namespace": "shop", "selector": "app=checkout"}
    assert '"restarts":7' in pods.observation_text
    assert metrics.operation == "queryMetric" and '"trend":"rising"' in metrics.observation_text
    assert turn.usage.input_tokens == 3500 and turn.usage.output_tokens == 230
    assert [r.uri for r in turn.kb_references] == ["s3://opsagent-kb/runbooks/cpu-saturation.md"]
    assert turn.final_response == "checkout is CPU-saturated."
    assert turn.pending_confirmation is None and turn.guardrail_action is None
    # the request: real shape, trace on, attributes passed along
    [call] = fake.calls
    assert call["inputText"] == "why is checkout slow?" and call["enableTrace"] is True
    assert call["sessionState"] == {"sessionAttributes": {"incident_id": "inc-1", "trigger": "cli"}}
    # events arrive in stream order
    kinds = [e.type for e in seen]
    assert kinds[:4] == ["rationale", "tool_call", "usage", "observation"]
    assert kinds[-2:] == ["chunk", "chunk"] and "kb_lookup" in kinds and "final" in kinds
    assert [e.text for e in seen if e.type == "chunk"] == ["checkout is ", "CPU-saturated."]


def test_observation_without_matching_trace_id_goes_to_the_open_call():
    fake = ScriptedAgentRuntime(
        [
            ev.tool_call("pods", POD_PATH, "GET", {"namespace": "shop"}, trace_id="t-a"),
            ev.observation("{}", trace_id="t-b"),
        ]
    )
    turn = session(fake).ask("q")
    assert turn.tool_calls[0].observation_text == "{}"


def test_utf8_split_across_chunks_and_final_response_fallback():
    text = "Durchsatz fällt – prüfe Pods ✓".encode()
    cut = text.index("ä".encode()) + 1  # split inside a multi-byte character
    turn = session(ScriptedAgentRuntime([ev.chunk(text[:cut]), ev.chunk(text[cut:])])).ask("q")
    assert turn.text == "Durchsatz fällt – prüfe Pods ✓"
    turn = session(ScriptedAgentRuntime([ev.final("only in the trace")])).ask("q")
    assert turn.text == "only in the trace"


def test_guardrail_and_failure_traces_are_recorded():
    fake = ScriptedAgentRuntime(
        [
            ev.guardrail("NONE"),
            ev.guardrail("INTERVENED"),
            ev.guardrail("NONE"),
            ev.failure("Lambda timed out", 424),
        ]
    )
    seen: list[StreamEvent] = []
    turn = session(fake, on_event=seen.append).ask("q")
    assert turn.guardrail_action == "INTERVENED"
    assert turn.failures == ["Lambda timed out"]
    assert [e.data.get("code") for e in seen if e.type == "failure"] == [424]


def test_return_control_confirm_sends_invocation_id_and_continues():
    fake = ScriptedAgentRuntime(
        [ev.rationale("Scale checkout to 6."), ev.chunk("I want to scale. "), ev.scale_confirmation(6)],
        [ev.chunk("Scaled checkout to 6 replicas.")],
    )
    s = session(fake, session_attributes={"trigger": "cli"})
    turn = s.ask("fix it")
    request = turn.pending_confirmation
    assert request is not None
    assert request.invocation_id == "inv-0001" and request.invocation_type == "USER_CONFIRMATION"
    assert (request.action_group, request.api_path, request.http_method) == ("scaling", SCALE_PATH, "POST")
    assert request.operation == "scaleDeployment"
    assert request.parameters == {
        "namespace": "shop",
        "deployment": "checkout",
        "replicas": "6",
        "reason": "CPU saturation on checkout",
        "dry_run": "false",
    }
    assert request.request_body["replicas"] == "6"
    follow = s.answer_confirmation(request, confirm=True)
    assert follow.text == "Scaled checkout to 6 replicas." and follow.pending_confirmation is None
    second = fake.calls[1]
    assert "inputText" not in second
    assert second["sessionId"] == "sess-1"
    assert second["sessionState"] == {
        "invocationId": "inv-0001",
        "returnControlInvocationResults": [
            {
                "apiResult": {
                    "actionGroup": "scaling",
                    "apiPath": SCALE_PATH,
                    "httpMethod": "POST",
                    "confirmationState": "CONFIRM",
                }
            }
        ],
        "sessionAttributes": {"trigger": "cli"},
    }


def test_return_control_deny():
    fake = ScriptedAgentRuntime(
        [ev.scale_confirmation(8, invocation_id="inv-77")], [ev.chunk("Not scaling.")]
    )
    s = session(fake)
    turn = s.ask("scale it")
    follow = s.answer_confirmation(turn.pending_confirmation, confirm=False)
    assert follow.text == "Not scaling."
    result = fake.calls[1]["sessionState"]["returnControlInvocationResults"][0]["apiResult"]
    assert result["confirmationState"] == "DENY"
    assert fake.calls[1]["sessionState"]["invocationId"] == "inv-77"


def test_throttling_mid_stream_raises_after_partial_output():
    fake = ScriptedAgentRuntime(
        [ev.chunk("partial "), ev.stream_error("throttlingException", "Rate exceeded")]
    )
    seen: list[StreamEvent] = []
    with pytest.raises(AgentUnavailable) as err:
        session(fake, on_event=seen.append).ask("q")
    assert err.value.reason == "throttling" and err.value.retryable is True
    assert "Rate exceeded" in err.value.message
    assert [e.text for e in seen] == ["partial "]  # what streamed before the error was delivered


@pytest.mark.parametrize(
    ("code", "reason", "retryable"),
    [
        ("dependencyFailedException", "dependency_failed", True),
        ("accessDeniedException", "access_denied", False),
        ("validationException", "validation", False),
        ("internalServerException", "internal", True),
        ("badGatewayException", "dependency_failed", True),
        ("serviceQuotaExceededException", "throttling", True),
        ("resourceNotFoundException", "not_configured", False),
        ("somethingNewException", "internal", True),
    ],
)
def test_stream_error_reasons(code, reason, retryable):
    with pytest.raises(AgentUnavailable) as err:
        session(ScriptedAgentRuntime([ev.stream_error(code, "boom")])).ask("q")
    assert err.value.reason == reason and err.value.retryable is retryable
    assert err.value.to_body()["reason"] == reason


def test_exception_event_yielded_as_a_dict_also_raises():
    fake = ScriptedAgentRuntime(
        [ev.chunk("a"), {"dependencyFailedException": {"message": "Lambda 500", "resourceName": "pods"}}]
    )
    with pytest.raises(AgentUnavailable) as err:
        session(fake).ask("q")
    assert err.value.reason == "dependency_failed" and "Lambda 500" in err.value.message


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("AccessDeniedException", 403, "access_denied"),
        ("ThrottlingException", 429, "throttling"),
        ("ResourceNotFoundException", 404, "not_configured"),
        ("ValidationException", 400, "validation"),
        ("ConflictException", 409, "throttling"),
    ],
)
def test_client_error_at_call_time(code, status, reason):
    fake = ScriptedAgentRuntime(ev.client_error(code, "nope", status))
    with pytest.raises(AgentUnavailable) as err:
        session(fake).ask("q")
    assert err.value.reason == reason and err.value.details["aws_code"] == code


def test_transport_failures_map_to_timeout_and_dependency():
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    with pytest.raises(AgentUnavailable) as err:
        session(ScriptedAgentRuntime(ReadTimeoutError(endpoint_url="https://bedrock"))).ask("q")
    assert err.value.reason == "timeout"
    with pytest.raises(AgentUnavailable) as err:
        session(ScriptedAgentRuntime(EndpointConnectionError(endpoint_url="https://bedrock"))).ask("q")
    assert err.value.reason == "dependency_failed"


def test_bugs_are_not_disguised_as_agent_errors():
    class Broken:
        def invoke_agent(self, **kw):
            raise KeyError("completion")

    with pytest.raises(KeyError):
        session(Broken()).ask("q")


def test_errors_in_on_event_are_not_disguised():
    def boom(event):
        raise RuntimeError("printer broke")

    with pytest.raises(RuntimeError, match="printer broke"):
        session(ScriptedAgentRuntime([ev.chunk("x")]), on_event=boom).ask("q")


@pytest.mark.parametrize(
    ("agent", "alias"),
    [("", "ALIAS12345"), ("AGENT12345", None), ("agent-id!", "A"), ("A" * 11, "B"), ("AGENT12345\n", "A")],
)
def test_bad_ids_are_not_configured(agent, alias):
    with pytest.raises(AgentUnavailable) as err:
        AgentSession(agent, alias, "sess-1", client=ScriptedAgentRuntime())
    assert err.value.reason == "not_configured"


@pytest.mark.parametrize("sid", ["x", "has space", "a/b", "é" * 3, "s" * 101, "", "sess-1\n"])
def test_invalid_session_ids_are_rejected(sid):
    with pytest.raises(AgentUnavailable) as err:
        AgentSession("AGENT12345", "ALIAS12345", sid, client=ScriptedAgentRuntime())
    assert err.value.reason == "validation" and "session_id_for" in err.value.message


def test_empty_question_is_validation():
    with pytest.raises(AgentUnavailable):
        session(ScriptedAgentRuntime()).ask("   ")


def test_session_id_for():
    assert session_id_for("abc-123") == "abc-123"
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout p99 > 2s@2024-05-01T12:00:00.000+0000"
    sid = session_id_for(arn)
    assert SESSION_ID.match(sid) and sid == session_id_for(arn)
    assert sid.startswith("arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-p99")
    assert session_id_for(arn + "x") != sid
    assert SESSION_ID.match(session_id_for("/")) and SESSION_ID.match(session_id_for("x"))
    assert session_id_for("inc-42\n") != "inc-42\n" and "\n" not in session_id_for("inc-42\n")
    long = "incident " * 50
    assert len(session_id_for(long)) <= 100


@given(st.text(max_size=300))
def test_session_id_for_is_always_valid_and_stable(text):
    sid = session_id_for(text)
    assert re.fullmatch(r"[0-9a-zA-Z._:-]{2,100}", sid), sid
    assert session_id_for(text) == sid


def test_fake_is_strict_about_shapes():
    with pytest.raises(AssertionError):
        validate_event({"chunk": {"text": "not bytes"}})
    with pytest.raises(AssertionError):
        validate_event(
            {
                "returnControl": {
                    "invocationId": "x",
                    "invocationInputs": [{"apiInvocationInput": {"apiPath": "/x"}}],
                }
            }
        )
    with pytest.raises(AssertionError):
        validate_request(
            {"agentId": "A", "agentAliasId": "B", "sessionId": "s1", "sessionState": {"invocationID": "x"}}
        )


def two_scales() -> dict:
    return ev.return_control_many(
        ev.scale_confirmation(6, deployment="checkout"),
        ev.scale_confirmation(0, deployment="cart"),
        invocation_id="inv-2",
    )


def test_return_control_with_several_inputs_answers_each_in_order():
    fake = ScriptedAgentRuntime([two_scales()], [ev.chunk("Scaled checkout; left cart alone.")])
    s = session(fake)
    pending = s.ask("fix it").pending_confirmation
    assert [i.parameters["deployment"] for i in pending.inputs] == ["checkout", "cart"]
    assert [i.request_body["replicas"] for i in pending.inputs] == ["6", "0"]
    s.answer_confirmation(pending, [True, False])
    state = fake.calls[1]["sessionState"]
    assert state["invocationId"] == "inv-2"
    assert [r["apiResult"]["confirmationState"] for r in state["returnControlInvocationResults"]] == [
        "CONFIRM",
        "DENY",
    ]
    assert {r["apiResult"]["apiPath"] for r in state["returnControlInvocationResults"]} == {SCALE_PATH}


def test_one_decision_applies_to_every_input_and_a_wrong_count_is_refused():
    fake = ScriptedAgentRuntime([two_scales()], [ev.chunk("ok")])
    s = session(fake)
    pending = s.ask("fix it").pending_confirmation
    with pytest.raises(ValueError, match="2 invocations"):
        s.answer_confirmation(pending, [True])
    assert len(fake.calls) == 1  # nothing was sent
    s.answer_confirmation(pending, False)
    results = fake.calls[1]["sessionState"]["returnControlInvocationResults"]
    assert [r["apiResult"]["confirmationState"] for r in results] == ["DENY", "DENY"]


def test_mid_stream_error_keeps_the_partial_turn():
    """Tools may already have run when the stream breaks: the caller must be able to see which."""
    fake = ScriptedAgentRuntime(
        [
            ev.tool_call("scaling", SCALE_PATH, "POST", {"namespace": "shop", "deployment": "checkout"}),
            ev.observation('{"applied": true, "replicas": 6}'),
            ev.chunk("Scaled checkout to 6. Now "),
            ev.usage(700, 20),
            ev.stream_error("internalServerException", "boom"),
        ]
    )
    with pytest.raises(AgentUnavailable) as err:
        session(fake).ask("q")
    partial = err.value.partial_turn
    assert partial is not None and partial.text == "Scaled checkout to 6. Now "
    assert [c.operation for c in partial.tool_calls] == ["scaleDeployment"]
    assert partial.tool_calls[0].observation_text == '{"applied": true, "replicas": 6}'
    assert partial.usage.input_tokens == 700
    assert "partial_turn" not in err.value.to_body()  # the body stays small and JSON-serialisable


def test_interleaved_tool_calls_get_their_own_observations():
    """Models may call several tools in one step: observations are matched by traceId, not by order."""
    fake = ScriptedAgentRuntime(
        [
            ev.tool_call("pods", POD_PATH, "GET", {"namespace": "shop"}, trace_id="t-1"),
            ev.tool_call("metrics", "/metrics", "GET", {"metric_name": "cpu"}, trace_id="t-2"),
            ev.observation('{"pods": []}', trace_id="t-1"),
            ev.observation('{"summary": {}}', trace_id="t-2"),
        ]
    )
    pods, metrics = session(fake).ask("q").tool_calls
    assert (pods.observation_text, metrics.observation_text) == ('{"pods": []}', '{"summary": {}}')


def test_turn_contents_are_bounded_and_references_listed_once():
    huge = "x" * (OBSERVATION_CHARS * 3)
    fake = ScriptedAgentRuntime(
        [
            ev.tool_call("pods", POD_PATH, "GET", {"namespace": "shop"}),
            ev.observation(huge),
            *ev.kb_lookup(["s3://kb/a.md", "s3://kb/b.md"]),
            *ev.kb_lookup(["s3://kb/a.md"], trace_id="t-kb2"),
            ev.chunk("see runbook", uris=["s3://kb/b.md"]),
        ]
    )
    turn = session(fake).ask("q")
    assert len(turn.tool_calls[0].observation_text) == OBSERVATION_CHARS
    assert [r.uri for r in turn.kb_references] == ["s3://kb/a.md", "s3://kb/b.md"]
