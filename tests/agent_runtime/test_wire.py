"""End to end through the real boto3 client: a local HTTP server answers InvokeAgent with a binary
AWS event stream (application/vnd.amazon.eventstream), so botocore's own parser produces the events
and raises EventStreamError for an exception message mid-stream."""

from __future__ import annotations

import base64
import binascii
import json
import struct

import pytest

from opsagent.agent_runtime import AgentSession, AgentUnavailable, default_client


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC), headers, payload, message CRC."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def event(kind: str, body: dict) -> bytes:
    headers = {":message-type": "event", ":event-type": kind, ":content-type": "application/json"}
    return message(headers, json.dumps(body).encode())


def error(kind: str, text: str) -> bytes:
    headers = {":message-type": "exception", ":exception-type": kind, ":content-type": "application/json"}
    return message(headers, json.dumps({"message": text}).encode())


def chunk(text: str) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(text.encode()).decode()})


def trace(body: dict) -> bytes:
    return event("trace", {"agentId": "AGENT12345", "sessionId": "sess-1", "trace": body})


PATH = "/agents/AGENT12345/agentAliases/ALIAS12345/sessions/sess-1/text"


@pytest.fixture
def bedrock(httpserver, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", httpserver.url_for("/"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def serve(*messages: bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        # errors are answered every time: botocore retries throttling and 5xx itself
        expect = httpserver.expect_oneshot_request if status == 200 else httpserver.expect_request
        expect(PATH, method="POST").respond_with_data(
            b"".join(messages),
            status=status,
            headers=headers
            or {
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-bedrock-agent-content-type": "application/json",
                "x-amz-bedrock-agent-session-id": "sess-1",
            },
        )

    return serve


def session() -> AgentSession:
    return AgentSession("AGENT12345", "ALIAS12345", "sess-1", client=default_client("us-east-1"))


def test_real_botocore_parses_chunks_traces_and_return_control(bedrock, httpserver):
    bedrock(
        trace({"orchestrationTrace": {"rationale": {"text": "look at pods", "traceId": "t-1"}}}),
        trace(
            {
                "orchestrationTrace": {
                    "invocationInput": {
                        "invocationType": "ACTION_GROUP",
                        "traceId": "t-1",
                        "actionGroupInvocationInput": {
                            "actionGroupName": "pods",
                            "apiPath": "/namespaces/{namespace}/pods",
                            "verb": "get",
                            "parameters": [{"name": "namespace", "type": "string", "value": "shop"}],
                        },
                    }
                }
            }
        ),
        trace(
            {
                "orchestrationTrace": {
                    "observation": {
                        "type": "ACTION_GROUP",
                        "traceId": "t-1",
                        "actionGroupInvocationOutput": {"text": "{}"},
                    }
                }
            }
        ),
        trace(
            {
                "orchestrationTrace": {
                    "modelInvocationOutput": {
                        "traceId": "t-1",
                        "metadata": {"usage": {"inputTokens": 10, "outputTokens": 3}},
                    }
                }
            }
        ),
        chunk("scaling needed"),
        event(
            "returnControl",
            {
                "invocationId": "inv-1",
                "invocationInputs": [
                    {
                        "apiInvocationInput": {
                            "actionGroup": "scaling",
                            "actionInvocationType": "USER_CONFIRMATION",
                            "apiPath": "/namespaces/{namespace}/deployments/{deployment}/scale",
                            "httpMethod": "POST",
                            "parameters": [{"name": "namespace", "type": "string", "value": "shop"}],
                            "requestBody": {
                                "content": {
                                    "application/json": {
                                        "properties": [{"name": "replicas", "type": "integer", "value": "6"}]
                                    }
                                }
                            },
                        }
                    }
                ],
            },
        ),
    )
    turn = session().ask("why?")
    assert turn.text == "scaling needed"
    assert turn.rationale == ["look at pods"]
    assert turn.tool_calls[0].operation == "listPods" and turn.tool_calls[0].observation_text == "{}"
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (10, 3)
    assert turn.pending_confirmation.parameters == {"namespace": "shop", "replicas": "6"}
    request = httpserver.log[0][0]
    assert json.loads(request.data) == {"enableTrace": True, "inputText": "why?"}


def test_real_botocore_error_mid_stream_becomes_agent_unavailable(bedrock):
    bedrock(chunk("partial"), error("throttlingException", "Your request rate is too high"))
    seen = []
    s = session()
    s.on_event = seen.append
    with pytest.raises(AgentUnavailable) as err:
        s.ask("why?")
    assert err.value.reason == "throttling" and err.value.details["aws_code"] == "throttlingException"
    assert [e.text for e in seen] == ["partial"]


@pytest.mark.parametrize(
    ("status", "error_type", "reason"),
    [
        (403, "AccessDeniedException", "access_denied"),
        (429, "ThrottlingException", "throttling"),
        (404, "ResourceNotFoundException", "not_configured"),
        (403, None, "access_denied"),  # no error type header: the HTTP status decides
        (424, None, "dependency_failed"),
    ],
)
def test_real_botocore_http_error_at_start(bedrock, httpserver, status, error_type, reason):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    body = json.dumps({"message": "User is not authorized to perform: bedrock:InvokeAgent"}).encode()
    bedrock(body, status=status, headers=headers)
    with pytest.raises(AgentUnavailable) as err:
        session().ask("why?")
    assert err.value.reason == reason
    if status == 429:
        assert len(httpserver.log) > 1, "botocore retries throttling before we see it"
    if status == 403:
        assert len(httpserver.log) == 1, "access denied is not retried"


def test_real_botocore_sends_streaming_configurations_and_a_deny_body(bedrock, httpserver):
    """The request as it goes on the wire: InvokeAgent's REST-JSON body, serialized by botocore."""
    from opsagent.agent_runtime import DENIED_BY_PERSON, ConfirmationRequest

    bedrock(chunk("Not scaling; proposal follows."))
    s = AgentSession(
        "AGENT12345", "ALIAS12345", "sess-1", client=default_client("us-east-1"), stream_final_response=True
    )
    pending = ConfirmationRequest(
        invocation_id="inv-1",
        action_group="scaling",
        api_path="/namespaces/{namespace}/deployments/{deployment}/scale",
        http_method="post",
    )
    s.answer_confirmation(pending, False)
    body = json.loads(httpserver.log[0][0].data)
    assert body["streamingConfigurations"] == {"streamFinalResponse": True, "applyGuardrailInterval": 200}
    [result] = body["sessionState"]["returnControlInvocationResults"]
    assert result["apiResult"] == {
        "actionGroup": "scaling",
        "apiPath": "/namespaces/{namespace}/deployments/{deployment}/scale",
        "httpMethod": "post",
        "confirmationState": "DENY",
        "responseBody": {"TEXT": {"body": DENIED_BY_PERSON}},
    }
