"""InvokeAgent client: one Bedrock Agent session, its streamed answer, traces and confirmations.

    from opsagent.agent_runtime import AgentSession, AgentUnavailable, session_id_for

    session = AgentSession(agent_id, alias_id, session_id_for(alarm_arn + "@" + ts),
                           session_attributes={"incident_id": ..., "trigger": "alarm"})
    turn = session.ask("checkout p99 latency alarm fired; investigate")
    turn.text, turn.tool_calls, turn.rationale, turn.usage
    if turn.pending_confirmation:                      # the agent wants a mutation (x-requireConfirmation)
        turn = session.answer_confirmation(turn.pending_confirmation, confirm=False)
        # several invocations in one returnControl (1-5): one decision each, in .inputs order
        # session.answer_confirmation(pending, [True, False])

``AgentSession(..., stream_final_response=True)`` asks Bedrock to stream the final answer in chunks
(``streamingConfigurations``; the guardrail then runs every ``guardrail_interval`` characters) instead
of one chunk when the turn ends; the agent's service role needs bedrock:InvokeModelWithResponseStream.

A failure mid-stream raises :class:`AgentUnavailable` whose ``partial_turn`` holds what the turn got
to (text, tool calls that already ran, usage): a confirmed change may have been applied already.

What the stream carries (botocore ``bedrock-agent-runtime`` 2023-07-26 model, ``ResponseStream``):
``chunk {bytes, attribution}``, ``trace {agentId, sessionId, eventTime, trace: {orchestrationTrace |
preProcessingTrace | postProcessingTrace | routingClassifierTrace | guardrailTrace | failureTrace}}``,
``returnControl {invocationId, invocationInputs: [{apiInvocationInput {actionGroup, apiPath,
httpMethod, parameters, requestBody, actionInvocationType}}]}``, ``files``, and exception events
(throttlingException, dependencyFailedException, accessDeniedException, validationException,
internalServerException, badGatewayException, ...). botocore raises those as ``EventStreamError``
while iterating; a scripted client may also yield them as ``{"throttlingException": {...}}``. Both,
and any ``ClientError`` from the call itself, become :class:`AgentUnavailable` with a ``reason``.

No boto3 at import: the default client is built on first use, with a read timeout long enough for
an agent turn (InvokeAgent streams for as long as the agent works).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from opsagent import catalogue
from opsagent.errors import OpsAgentError

SESSION_ID = re.compile(r"^[0-9a-zA-Z._:-]{2,100}$")
AGENT_ID = re.compile(r"^[0-9a-zA-Z]{1,10}$")
#: Characters of an observation kept on a ToolCall (the CLI shortens further for display).
OBSERVATION_CHARS = 4_000
KB_TEXT_CHARS = 300
#: Read timeout for InvokeAgent: the stream stays open while the agent calls tools.
READ_TIMEOUT_SECONDS = 300
#: ``streamingConfigurations.applyGuardrailInterval`` when the final answer is streamed: Bedrock runs
#: the guardrail (ApplyGuardrail) on every this-many characters before releasing them. The service
#: default is 50, i.e. ~40 guardrail calls for a 2,000-character answer; 200 keeps the first text
#: under a line or two away while cutting those calls (and their text units) by four.
GUARDRAIL_INTERVAL_CHARS = 200
#: What a DENY tells the model (``responseBody.TEXT.body``): without a body the model reads the denial
#: as an access problem and may retry with other values.
DENIED_BY_PERSON = (
    "Declined by the person asked to confirm: the change was NOT made. Do not retry it or try other "
    "values; state it as a proposal (from -> to, evidence, undo) in your answer."
)

#: (method, apiPath template) -> operationId, from the catalogue. Traces carry no operationId.
OPERATIONS: dict[tuple[str, str], str] = {(t.method, t.path): t.name for t in catalogue.TOOLS}

REASONS = (
    "throttling",
    "dependency_failed",
    "access_denied",
    "validation",
    "internal",
    "not_configured",
    "timeout",
    "guardrail",  # the guardrail intervened: its blocked message is not an answer (not retryable)
)
_RETRYABLE = {"throttling", "dependency_failed", "internal", "timeout"}
#: AWS error code (lower-cased, without the "exception" suffix) -> reason.
_CODE_REASONS = {
    "throttling": "throttling",
    "servicequotaexceeded": "throttling",
    "toomanyrequests": "throttling",
    "conflict": "throttling",  # the session is busy with another invocation: retry later
    "dependencyfailed": "dependency_failed",
    "badgateway": "dependency_failed",
    "modelnotready": "dependency_failed",
    "accessdenied": "access_denied",
    "unrecognizedclient": "access_denied",
    "expiredtoken": "access_denied",
    "validation": "validation",
    "resourcenotfound": "not_configured",
    "internalserver": "internal",
    "serviceunavailable": "internal",
}


_STATUS_REASONS = {
    400: "validation",
    403: "access_denied",
    404: "not_configured",
    408: "timeout",
    409: "throttling",
    424: "dependency_failed",
    429: "throttling",
    502: "dependency_failed",
    503: "internal",
    504: "timeout",
}


class AgentUnavailable(OpsAgentError):
    """InvokeAgent failed at the call or mid-stream. ``reason`` is one of :data:`REASONS`."""

    status_code = 503
    code = "agent_unavailable"

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown AgentUnavailable reason {reason!r}")
        super().__init__(message, reason=reason, **details)
        self.reason = reason
        self.retryable = reason in _RETRYABLE  # shadows the class default per instance
        #: Mid-stream failures: the turn as far as it got (text, tool calls that already ran, usage).
        self.partial_turn: AgentTurn | None = None


# --------------------------------------------------------------------------------------------- models


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class ToolCall(BaseModel):
    action_group: str
    api_path: str
    verb: str
    operation: str | None = Field(default=None, description="operationId from the fixed API table")
    parameters: dict[str, str] = Field(default_factory=dict)
    request_body: dict[str, str] = Field(default_factory=dict)
    observation_text: str | None = None
    trace_id: str | None = None


class KbReference(BaseModel):
    uri: str | None = None
    text: str | None = None


class ApiInvocation(BaseModel):
    """One ``apiInvocationInput`` of a returnControl event."""

    action_group: str
    api_path: str
    http_method: str = Field(
        description="exactly as Bedrock sent it (the answer must echo it; case may vary)"
    )
    operation: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    request_body: dict[str, str] = Field(default_factory=dict)
    invocation_type: str | None = Field(default=None, description="USER_CONFIRMATION, RESULT, ...")


class ConfirmationRequest(ApiInvocation):
    """The agent asks before running a mutation. The inherited fields describe the first (usually
    only) invocation, except that ``parameters`` merges its path/query parameters and request-body
    properties."""

    invocation_id: str
    inputs: list[ApiInvocation] = Field(default_factory=list, description="all invocations (1-5)")


class AgentTurn(BaseModel):
    session_id: str
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    rationale: list[str] = Field(default_factory=list)
    kb_references: list[KbReference] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    pending_confirmation: ConfirmationRequest | None = None
    guardrail_action: str | None = Field(default=None, description="INTERVENED when a guardrail stepped in")
    failures: list[str] = Field(default_factory=list, description="failureTrace reasons")
    final_response: str | None = None


class StreamEvent(BaseModel):
    """What ``on_event`` receives while the stream is read, in order.

    ``type``: ``chunk`` (text), ``rationale`` (text), ``tool_call`` (tool_call), ``observation``
    (tool_call with observation_text; text), ``kb_lookup`` (text = query or count; data.references),
    ``final`` (text), ``usage`` (data.input_tokens/output_tokens of one model call), ``guardrail``
    (text = action), ``failure`` (text = reason; data.code), ``confirmation`` (confirmation)."""

    type: str
    text: str | None = None
    tool_call: ToolCall | None = None
    confirmation: ConfirmationRequest | None = None
    data: dict[str, Any] = Field(default_factory=dict)


# -------------------------------------------------------------------------------------------- helpers


def session_id_for(text: str) -> str:
    """A valid InvokeAgent ``sessionId`` (``^[0-9a-zA-Z._:-]+$``, 2-100 characters) for ``text``.

    Valid ids come back unchanged; anything else becomes a readable slug plus a SHA-256 prefix, so
    the same text (an alarm ARN + state timestamp, a ticket id) always maps to the same session."""
    if SESSION_ID.fullmatch(text):
        return text
    slug = re.sub(r"[^0-9a-zA-Z._:-]+", "-", text).strip("-.")[:60]
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{slug}-{digest}" if slug else f"s-{digest}"


def attempt_session_id(base: str) -> str:
    """A fresh InvokeAgent ``sessionId`` for one attempt at ``base`` (e.g. an alarm transition's
    session id): ``<base>.<8 hex>``. A retry must not re-ask in the session of the attempt that
    failed, with its history and any unanswered returnControl; the base keeps it readable."""
    base = session_id_for(base)
    return f"{base[: 100 - 9]}.{uuid.uuid4().hex[:8]}"


def new_session_id() -> str:
    return f"cli-{uuid.uuid4().hex}"


def operation_for(method: str | None, api_path: str | None) -> str | None:
    return OPERATIONS.get(((method or "").upper(), api_path or ""))


def _params(items: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value", "")) for p in items or [] if p.get("name") is not None}


def _body_params(request_body: dict[str, Any] | None) -> dict[str, str]:
    """Both body shapes: trace ``{content: {media: [params]}}`` and returnControl
    ``{content: {media: {properties: [params]}}}``."""
    out: dict[str, str] = {}
    for media in ((request_body or {}).get("content") or {}).values():
        items = media.get("properties") if isinstance(media, dict) else media
        out.update(_params(items))
    return out


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unavailable_from(exc: BaseException) -> AgentUnavailable | None:
    """Map a failure of the call or the stream to :class:`AgentUnavailable`; ``None`` when ``exc``
    is neither an AWS error nor a transport failure (a bug: the caller re-raises it)."""
    if isinstance(exc, AgentUnavailable):
        return exc
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        code = str(err.get("Code") or "")
        message = str(err.get("Message") or "")[:500]
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return _from_code(code, message, status)
    name = type(exc).__name__
    if name in {"NoCredentialsError", "NoRegionError", "ProfileNotFound", "PartialCredentialsError"}:
        return AgentUnavailable(f"AWS client not configured: {exc}", reason="not_configured")
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return AgentUnavailable(f"Bedrock did not answer in time ({name})", reason="timeout")
    if isinstance(exc, OSError) or "Connection" in name:
        return AgentUnavailable(f"cannot reach Bedrock Agent Runtime: {exc}", reason="dependency_failed")
    if type(exc).__module__.split(".")[0] in {"botocore", "urllib3"}:
        return AgentUnavailable(f"{name}: {str(exc)[:300]}", reason="internal")
    return None


def _mapped(exc: Exception) -> Exception:
    return unavailable_from(exc) or exc


def _from_code(code: str, message: str, status: int | None = None) -> AgentUnavailable:
    key = code.lower().removesuffix("exception")
    reason = _CODE_REASONS.get(key)
    if reason is None:  # no (known) error code: go by the HTTP status
        reason = _STATUS_REASONS.get(status or 0, "internal")
    return AgentUnavailable(f"{code}: {message}" if message else code, reason=reason, aws_code=code)


# ------------------------------------------------------------------------------------------- the parser


class TurnBuilder:
    """Folds stream events into an :class:`AgentTurn`, calling ``on_event`` as it goes."""

    def __init__(self, session_id: str, on_event: Callable[[StreamEvent], None] | None = None) -> None:
        self.turn = AgentTurn(session_id=session_id)
        self._on_event = on_event
        self._text: list[str] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._open_calls: dict[str | None, ToolCall] = {}
        self._kb_seen: set[tuple[str | None, str | None]] = set()

    def _emit(self, event: StreamEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def feed(self, event: dict[str, Any]) -> None:
        for key, payload in event.items():
            if key == "chunk":
                self._chunk(payload or {})
            elif key == "trace":
                self._trace((payload or {}).get("trace") or {})
            elif key == "returnControl":
                self._return_control(payload or {})
            elif key.endswith("Exception"):
                message = str((payload or {}).get("message") or "")
                raise _from_code(key, message)
            # "files" (code interpreter output) and unknown future members are ignored

    def finish(self) -> AgentTurn:
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._text.append(tail)
        self.turn.text = "".join(self._text)
        if not self.turn.text and self.turn.final_response:
            self.turn.text = self.turn.final_response
        return self.turn

    # -- events
    def _chunk(self, chunk: dict[str, Any]) -> None:
        data = chunk.get("bytes") or b""
        text = self._decoder.decode(data if isinstance(data, bytes) else str(data).encode())
        if text:
            self._text.append(text)
            self._emit(StreamEvent(type="chunk", text=text))
        for citation in (chunk.get("attribution") or {}).get("citations") or []:
            self._references(citation.get("retrievedReferences") or [])

    def _trace(self, trace: dict[str, Any]) -> None:
        for kind, body in trace.items():
            body = body or {}
            if kind == "guardrailTrace":
                action = body.get("action")
                if action and (action == "INTERVENED" or self.turn.guardrail_action is None):
                    self.turn.guardrail_action = action
                self._emit(StreamEvent(type="guardrail", text=action))
            elif kind == "failureTrace":
                reason = str(body.get("failureReason") or "unknown failure")
                self.turn.failures.append(reason[:1000])
                self._emit(StreamEvent(type="failure", text=reason, data={"code": body.get("failureCode")}))
            elif isinstance(body, dict):
                # orchestration / pre- / post-processing / routing classifier share these members
                self._step(body)

    def _step(self, step: dict[str, Any]) -> None:
        rationale = (step.get("rationale") or {}).get("text")
        if rationale:
            self.turn.rationale.append(rationale)
            self._emit(StreamEvent(type="rationale", text=rationale))
        invocation = step.get("invocationInput") or {}
        ag = invocation.get("actionGroupInvocationInput")
        if ag:
            call = ToolCall(
                action_group=str(ag.get("actionGroupName") or ""),
                api_path=str(ag.get("apiPath") or ag.get("function") or ""),
                verb=str(ag.get("verb") or "").upper(),
                operation=operation_for(ag.get("verb"), ag.get("apiPath")),
                parameters=_params(ag.get("parameters")),
                request_body=_body_params(ag.get("requestBody")),
                trace_id=invocation.get("traceId"),
            )
            self.turn.tool_calls.append(call)
            self._open_calls[call.trace_id] = call
            self._emit(StreamEvent(type="tool_call", tool_call=call))
        kb_in = invocation.get("knowledgeBaseLookupInput")
        if kb_in:
            self._emit(StreamEvent(type="kb_lookup", text=kb_in.get("text"), data={"phase": "query"}))
        observation = step.get("observation") or {}
        output = observation.get("actionGroupInvocationOutput")
        if output is not None:
            call = self._open_calls.pop(observation.get("traceId"), None)
            if call is None:  # no matching trace id: the most recent call still waiting
                call = next((c for c in reversed(self.turn.tool_calls) if c.observation_text is None), None)
                if call is not None:
                    self._open_calls.pop(call.trace_id, None)
            text = str(output.get("text") or "")
            if call is not None:
                call.observation_text = _clip(text, OBSERVATION_CHARS)
            self._emit(StreamEvent(type="observation", text=text, tool_call=call))
        kb_out = observation.get("knowledgeBaseLookupOutput")
        if kb_out is not None:
            refs = self._references(kb_out.get("retrievedReferences") or [])
            self._emit(
                StreamEvent(
                    type="kb_lookup",
                    text=f"{len(refs)} references",
                    data={"references": [r.uri for r in refs]},
                )
            )
        final = (observation.get("finalResponse") or {}).get("text")
        if final is not None:
            self.turn.final_response = final
            self._emit(StreamEvent(type="final", text=final))
        usage = ((step.get("modelInvocationOutput") or {}).get("metadata") or {}).get("usage")
        if usage:
            i, o = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
            self.turn.usage.input_tokens += i
            self.turn.usage.output_tokens += o
            self._emit(StreamEvent(type="usage", data={"input_tokens": i, "output_tokens": o}))

    def _references(self, refs: list[dict[str, Any]]) -> list[KbReference]:
        out = []
        for ref in refs:
            location = ref.get("location") or {}
            uri = next(
                (
                    v.get("uri") or v.get("url")
                    for v in location.values()
                    if isinstance(v, dict) and (v.get("uri") or v.get("url"))
                ),
                None,
            )
            text = _clip((ref.get("content") or {}).get("text"), KB_TEXT_CHARS)
            item = KbReference(uri=uri, text=text)
            out.append(item)
            key = (uri, None if uri else text)
            if key not in self._kb_seen:
                self._kb_seen.add(key)
                self.turn.kb_references.append(item)
        return out

    def _return_control(self, payload: dict[str, Any]) -> None:
        inputs = []
        for member in payload.get("invocationInputs") or []:
            api = member.get("apiInvocationInput")
            if not api:
                continue  # functionInvocationInput: function-detail action groups (not used here)
            inputs.append(
                ApiInvocation(
                    action_group=str(api.get("actionGroup") or ""),
                    api_path=str(api.get("apiPath") or ""),
                    http_method=str(api.get("httpMethod") or ""),
                    operation=operation_for(api.get("httpMethod"), api.get("apiPath")),
                    parameters=_params(api.get("parameters")),
                    request_body=_body_params(api.get("requestBody")),
                    invocation_type=api.get("actionInvocationType"),
                )
            )
        if not inputs:
            self.turn.failures.append("returnControl without an apiInvocationInput")
            return
        first = inputs[0]
        request = ConfirmationRequest(
            invocation_id=str(payload.get("invocationId") or ""),
            action_group=first.action_group,
            api_path=first.api_path,
            http_method=first.http_method,
            operation=first.operation,
            parameters={**first.parameters, **first.request_body},
            request_body=first.request_body,
            invocation_type=first.invocation_type,
            inputs=inputs,
        )
        self.turn.pending_confirmation = request
        self._emit(StreamEvent(type="confirmation", confirmation=request))


# ------------------------------------------------------------------------------------------- the session


def default_client(region: str | None = None) -> Any:
    """A bedrock-agent-runtime client whose read timeout fits a whole agent turn."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_appid="opsagent",
    )
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.session.Session().client("bedrock-agent-runtime", region_name=region, config=config)


class AgentSession:
    """One conversation with a Bedrock Agent alias (``sessionId`` keeps the agent's memory of it)."""

    def __init__(
        self,
        agent_id: str,
        alias_id: str,
        session_id: str,
        *,
        client: Any | None = None,
        session_attributes: dict[str, str] | None = None,
        enable_trace: bool = True,
        on_event: Callable[[StreamEvent], None] | None = None,
        region: str | None = None,
        stream_final_response: bool = False,
        guardrail_interval: int = GUARDRAIL_INTERVAL_CHARS,
    ) -> None:
        for label, value in (("agent id", agent_id), ("agent alias id", alias_id)):
            if not value or not AGENT_ID.fullmatch(value):
                raise AgentUnavailable(
                    f"{label} {value!r} is missing or not 1-10 letters/digits", reason="not_configured"
                )
        if not SESSION_ID.fullmatch(session_id or ""):
            raise AgentUnavailable(
                f"session id {session_id!r} is not ^[0-9a-zA-Z._:-]+$ (2-100 chars); use session_id_for()",
                reason="validation",
            )
        self.agent_id = agent_id
        self.alias_id = alias_id
        self.session_id = session_id
        self.session_attributes = {str(k): str(v) for k, v in (session_attributes or {}).items()}
        self.enable_trace = enable_trace
        self.on_event = on_event
        if guardrail_interval < 1:
            raise ValueError("guardrail_interval must be at least 1 character")
        #: ``streamingConfigurations`` (None: Bedrock sends the final answer in one chunk at the end).
        self.streaming: dict[str, Any] | None = (
            {"streamFinalResponse": True, "applyGuardrailInterval": int(guardrail_interval)}
            if stream_final_response
            else None
        )
        self._client = client
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = default_client(self._region)
            except Exception as exc:
                raise _mapped(exc) from exc
        return self._client

    def ask(self, text: str) -> AgentTurn:
        """Send the user's text; returns when the stream ends (answer or a confirmation request)."""
        if not text or not text.strip():
            raise AgentUnavailable("empty question", reason="validation")
        return self._invoke(input_text=text)

    def answer_confirmation(
        self,
        request: ConfirmationRequest,
        confirm: bool | Sequence[bool],
        *,
        deny_text: str | Sequence[str] = DENIED_BY_PERSON,
    ) -> AgentTurn:
        """CONFIRM or DENY the invocations of ``request`` and let the agent continue: one decision for
        all of them, or one per invocation (in ``request.inputs`` order).

        Each result echoes ``actionGroup``/``apiPath``/``httpMethod`` exactly as received. A DENY
        carries ``responseBody: {"TEXT": {"body": deny_text}}`` (TEXT is the only content type the
        API takes), so the model reads a decision, not a failure, and does not retry; ``deny_text``
        may also be one text per invocation (used where that invocation is denied)."""
        inputs = request.inputs or [
            ApiInvocation(
                action_group=request.action_group, api_path=request.api_path, http_method=request.http_method
            )
        ]
        if isinstance(confirm, bool):
            decisions = [confirm] * len(inputs)
        else:
            decisions = [bool(d) for d in confirm]
            if len(decisions) != len(inputs):
                raise ValueError(f"{len(decisions)} decisions for {len(inputs)} invocations")
        texts = [deny_text] * len(inputs) if isinstance(deny_text, str) else [str(t) for t in deny_text]
        if len(texts) != len(inputs):
            raise ValueError(f"{len(texts)} deny texts for {len(inputs)} invocations")
        if any(not t.strip() for t, d in zip(texts, decisions, strict=True) if not d):
            raise ValueError("a deny text must say why the change was not made")
        results = []
        for item, decision, text in zip(inputs, decisions, texts, strict=True):
            result: dict[str, Any] = {
                "actionGroup": item.action_group,
                "apiPath": item.api_path,
                "httpMethod": item.http_method,
                "confirmationState": "CONFIRM" if decision else "DENY",
            }
            if not decision:
                result["responseBody"] = {"TEXT": {"body": text[:1000]}}
            results.append({"apiResult": result})
        return self._invoke(
            session_state={"invocationId": request.invocation_id, "returnControlInvocationResults": results}
        )

    def _invoke(
        self, *, input_text: str | None = None, session_state: dict[str, Any] | None = None
    ) -> AgentTurn:
        state = dict(session_state or {})
        if self.session_attributes:
            state["sessionAttributes"] = self.session_attributes
        request: dict[str, Any] = {
            "agentId": self.agent_id,
            "agentAliasId": self.alias_id,
            "sessionId": self.session_id,
            "enableTrace": self.enable_trace,
        }
        if self.streaming is not None:
            request["streamingConfigurations"] = dict(self.streaming)
        if input_text is not None:
            request["inputText"] = input_text
        if state:
            request["sessionState"] = state
        builder = TurnBuilder(self.session_id, self.on_event)
        client = self.client
        try:
            stream = iter(client.invoke_agent(**request)["completion"])
        except Exception as exc:
            raise _mapped(exc) from exc
        while True:
            try:
                event = next(stream)
            except StopIteration:
                break
            except Exception as exc:  # EventStreamError, read timeout, dropped connection ...
                raise _with_partial(_mapped(exc), builder) from exc
            try:
                builder.feed(event)
            except AgentUnavailable as exc:  # an exception *event*; errors of on_event propagate untouched
                raise _with_partial(exc, builder) from None
        return builder.finish()


def _with_partial(exc: Exception, builder: TurnBuilder) -> Exception:
    """Attach what the turn got to before it broke (tools may already have run) to an AgentUnavailable."""
    if isinstance(exc, AgentUnavailable):
        exc.partial_turn = builder.finish()
    return exc
