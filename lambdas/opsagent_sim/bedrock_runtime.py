"""A scripted stand-in for the ``bedrock-agent-runtime`` client, for tests and offline demos.

moto does not implement InvokeAgent and botocore's Stubber rejects event streams, so tests inject
this instead (``AgentSession(..., client=ScriptedAgentRuntime(...))``). It is strict where it
matters: every ``invoke_agent`` request is validated against botocore's InvokeAgent input shape, and
every scripted event against its ``ResponseStream`` member shape, so a builder here cannot drift
from what boto3 really returns.

    from opsagent_sim.bedrock_runtime import ScriptedAgentRuntime, ev

    fake = ScriptedAgentRuntime(
        [ev.rationale("check pods"), ev.tool_call("pods", "/namespaces/{namespace}/pods", "GET",
         {"namespace": "shop"}), ev.observation('{"pods": []}'), ev.usage(900, 40), ev.chunk("All good.")],
        ev.client_error("ThrottlingException", "Rate exceeded", 429),   # the second call fails at once
    )
    fake.calls  # the validated requests, in order

Each positional script is one ``invoke_agent`` call: a list of events (``ev.stream_error(...)``
inside it raises ``EventStreamError`` at that point of the stream, like botocore does) or an
exception to raise from the call itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

AGENT_ID = "AGENT12345"
ALIAS_ID = "ALIAS12345"


@cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("bedrock-agent-runtime")


def _validate(value: dict[str, Any], shape: Any, what: str) -> None:
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        raise AssertionError(f"{what} does not match botocore's model:\n{report.generate_report()}")


def validate_request(params: dict[str, Any]) -> None:
    _validate(params, _service_model().operation_model("InvokeAgent").input_shape, "InvokeAgent request")


def validate_event(event: dict[str, Any]) -> None:
    stream = _service_model().shape_for("ResponseStream")
    assert len(event) == 1, f"an event has exactly one member, got {sorted(event)}"
    [(name, body)] = event.items()
    assert name in stream.members, f"{name!r} is not a ResponseStream member"
    _validate(body, stream.members[name], f"{name} event")


class StreamError:
    """Marker in a script: raise ``EventStreamError`` at this point of the stream."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message

    def exception(self) -> Exception:
        from botocore.exceptions import EventStreamError

        # botocore's event-stream parser uses the ResponseStream member name as the error code
        return EventStreamError({"Error": {"Code": self.code, "Message": self.message}}, "InvokeAgent")


#: ``ApiResult.responseBody`` keys InvokeAgent takes (its model: "currently, only TEXT is supported").
RESPONSE_BODY_TYPES = frozenset({"TEXT"})


def validate_answer(params: dict[str, Any], pending: dict[str, Any] | None) -> None:
    """A ``returnControlInvocationResults`` answer must answer the session's open returnControl:
    same ``invocationId``, one result per invocation input, in order, each echoing
    ``actionGroup``/``apiPath``/``httpMethod`` exactly as sent (case included), a
    ``confirmationState`` for a USER_CONFIRMATION input, and a ``responseBody`` only of type TEXT."""
    state = params.get("sessionState") or {}
    results = state.get("returnControlInvocationResults")
    if results is None:
        return
    assert pending is not None, f"session {params['sessionId']!r} has no open returnControl to answer"
    assert state.get("invocationId") == pending["invocationId"], (
        f"invocationId {state.get('invocationId')!r} does not answer {pending['invocationId']!r}"
    )
    inputs = [m["apiInvocationInput"] for m in pending["invocationInputs"] if "apiInvocationInput" in m]
    assert len(results) == len(inputs), f"{len(results)} results for {len(inputs)} invocation inputs"
    for number, (result, asked) in enumerate(zip(results, inputs, strict=True), 1):
        api = result.get("apiResult")
        assert api is not None, f"result {number} is not an apiResult"
        for key in ("actionGroup", "apiPath", "httpMethod"):
            assert api.get(key) == asked.get(key), (
                f"result {number}: {key} {api.get(key)!r} does not echo {asked.get(key)!r}"
            )
        if asked.get("actionInvocationType", "").startswith("USER_CONFIRMATION"):
            assert api.get("confirmationState") in ("CONFIRM", "DENY"), (
                f"result {number}: no confirmationState"
            )
        unknown = set(api.get("responseBody") or {}) - RESPONSE_BODY_TYPES
        assert not unknown, f"result {number}: responseBody types {sorted(unknown)}; only TEXT is supported"


class ScriptedAgentRuntime:
    """``invoke_agent(**kw)`` returns ``{"completion": <iterator>, ...}`` from the next script.

    Per session it remembers the last returnControl it streamed; an answer is checked against it
    (:func:`validate_answer`)."""

    def __init__(self, *scripts: list[Any] | BaseException) -> None:
        self.scripts = list(scripts)
        self.calls: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, Any]] = {}  # session id -> returnControl payload

    def invoke_agent(self, **params: Any) -> dict[str, Any]:
        validate_request(params)
        validate_answer(params, self._open.get(params["sessionId"]))
        if (params.get("sessionState") or {}).get("returnControlInvocationResults") is not None:
            del self._open[params["sessionId"]]
        self.calls.append(params)
        if not self.scripts:
            raise AssertionError(f"unexpected invoke_agent call #{len(self.calls)}: {params}")
        script = self.scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        for item in script:
            if not isinstance(item, StreamError):
                validate_event(item)
        return {
            "completion": self._stream(script, params["sessionId"]),
            "contentType": "application/json",
            "sessionId": params["sessionId"],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    def _stream(self, script: list[Any], session_id: str) -> Iterator[dict[str, Any]]:
        for item in script:
            if isinstance(item, StreamError):
                raise item.exception()
            if isinstance(item, dict) and "returnControl" in item:
                self._open[session_id] = item["returnControl"]
            yield item


class _Events:
    """Builders for real-shaped ``ResponseStream`` events (botocore-parsed form)."""

    def __init__(self) -> None:
        self.session_id = "fake-session"

    @staticmethod
    def _params(values: dict[str, Any] | None) -> list[dict[str, str]]:
        return [{"name": k, "type": _type_of(v), "value": _str(v)} for k, v in (values or {}).items()]

    def _trace(self, trace: dict[str, Any]) -> dict[str, Any]:
        return {
            "trace": {
                "agentId": AGENT_ID,
                "agentAliasId": ALIAS_ID,
                "agentVersion": "1",
                "sessionId": self.session_id,
                "eventTime": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
                "trace": trace,
            }
        }

    def chunk(self, text: str | bytes, *, uris: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"bytes": text.encode() if isinstance(text, str) else text}
        if uris:
            body["attribution"] = {
                "citations": [
                    {
                        "generatedResponsePart": {
                            "textResponsePart": {"text": "…", "span": {"start": 0, "end": 1}}
                        },
                        "retrievedReferences": [
                            {
                                "content": {"text": f"excerpt of {u}"},
                                "location": {"type": "S3", "s3Location": {"uri": u}},
                            }
                            for u in uris
                        ],
                    }
                ]
            }
        return {"chunk": body}

    def rationale(self, text: str, trace_id: str = "t-1") -> dict[str, Any]:
        return self._trace({"orchestrationTrace": {"rationale": {"text": text, "traceId": trace_id}}})

    def tool_call(
        self,
        action_group: str,
        api_path: str,
        verb: str,
        parameters: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        trace_id: str = "t-1",
    ) -> dict[str, Any]:
        ag: dict[str, Any] = {
            "actionGroupName": action_group,
            "apiPath": api_path,
            "verb": verb.lower(),
            "parameters": self._params(parameters),
            "executionType": "LAMBDA",
        }
        if body is not None:
            ag["requestBody"] = {"content": {"application/json": self._params(body)}}
        return self._trace(
            {
                "orchestrationTrace": {
                    "invocationInput": {
                        "invocationType": "ACTION_GROUP",
                        "actionGroupInvocationInput": ag,
                        "traceId": trace_id,
                    }
                }
            }
        )

    def observation(self, text: str, trace_id: str = "t-1") -> dict[str, Any]:
        return self._trace(
            {
                "orchestrationTrace": {
                    "observation": {
                        "type": "ACTION_GROUP",
                        "actionGroupInvocationOutput": {"text": text},
                        "traceId": trace_id,
                    }
                }
            }
        )

    def kb_lookup(
        self, uris: list[str], query: str = "runbook", trace_id: str = "t-kb"
    ) -> list[dict[str, Any]]:
        return [
            self._trace(
                {
                    "orchestrationTrace": {
                        "invocationInput": {
                            "invocationType": "KNOWLEDGE_BASE",
                            "knowledgeBaseLookupInput": {"text": query, "knowledgeBaseId": "KB12345678"},
                            "traceId": trace_id,
                        }
                    }
                }
            ),
            self._trace(
                {
                    "orchestrationTrace": {
                        "observation": {
                            "type": "KNOWLEDGE_BASE",
                            "knowledgeBaseLookupOutput": {
                                "retrievedReferences": [
                                    {
                                        "content": {"text": f"excerpt of {u}", "type": "TEXT"},
                                        "location": {"type": "S3", "s3Location": {"uri": u}},
                                    }
                                    for u in uris
                                ]
                            },
                            "traceId": trace_id,
                        }
                    }
                }
            ),
        ]

    def final(self, text: str, trace_id: str = "t-9") -> dict[str, Any]:
        return self._trace(
            {
                "orchestrationTrace": {
                    "observation": {"type": "FINISH", "finalResponse": {"text": text}, "traceId": trace_id}
                }
            }
        )

    def usage(self, input_tokens: int, output_tokens: int, trace_id: str = "t-1") -> dict[str, Any]:
        return self._trace(
            {
                "orchestrationTrace": {
                    "modelInvocationOutput": {
                        "traceId": trace_id,
                        "metadata": {"usage": {"inputTokens": input_tokens, "outputTokens": output_tokens}},
                    }
                }
            }
        )

    def guardrail(self, action: str = "INTERVENED") -> dict[str, Any]:
        return self._trace({"guardrailTrace": {"action": action, "traceId": "t-g"}})

    def failure(self, reason: str, code: int = 424) -> dict[str, Any]:
        return self._trace({"failureTrace": {"failureReason": reason, "failureCode": code, "traceId": "t-f"}})

    def return_control(
        self,
        action_group: str,
        api_path: str,
        http_method: str,
        parameters: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        *,
        invocation_id: str = "inv-0001",
        invocation_type: str = "USER_CONFIRMATION",
    ) -> dict[str, Any]:
        api: dict[str, Any] = {
            "actionGroup": action_group,
            "actionInvocationType": invocation_type,
            "agentId": AGENT_ID,
            "apiPath": api_path,
            "httpMethod": http_method,  # as given: Bedrock's case may vary
            "parameters": self._params(parameters),
        }
        if body is not None:
            api["requestBody"] = {"content": {"application/json": {"properties": self._params(body)}}}
        return {
            "returnControl": {
                "invocationId": invocation_id,
                "invocationInputs": [{"apiInvocationInput": api}],
            }
        }

    def scale_confirmation(
        self,
        replicas: int = 6,
        *,
        namespace: str = "shop",
        deployment: str = "checkout",
        invocation_id: str = "inv-0001",
    ) -> dict[str, Any]:
        return self.return_control(
            "scaling",
            "/namespaces/{namespace}/deployments/{deployment}/scale",
            "POST",
            {"namespace": namespace, "deployment": deployment},
            {"replicas": replicas, "reason": "CPU saturation on checkout", "dry_run": False},
            invocation_id=invocation_id,
        )

    @staticmethod
    def return_control_many(*events: dict[str, Any], invocation_id: str = "inv-0001") -> dict[str, Any]:
        """One returnControl event carrying the invocation inputs of several ``return_control`` events
        (InvokeAgent allows 1-5 per event)."""
        inputs = [item for e in events for item in e["returnControl"]["invocationInputs"]]
        return {"returnControl": {"invocationId": invocation_id, "invocationInputs": inputs}}

    @staticmethod
    def stream_error(code: str = "throttlingException", message: str = "Rate exceeded") -> StreamError:
        return StreamError(code, message)

    @staticmethod
    def client_error(code: str, message: str = "", status: int = 400) -> Exception:
        from botocore.exceptions import ClientError

        return ClientError(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "InvokeAgent",
        )


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


ev = _Events()
