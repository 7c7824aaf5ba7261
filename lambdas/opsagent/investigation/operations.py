"""Run any of the 10 action-group operations by operationId, exactly as the agent would.

Design decision — synthesized Bedrock events through each action group's resolver ``app``, not a
second registry of domain calls:

* the evidence the no-model fallback (and the pre-enrichment) collects is byte for byte the JSON
  the model receives from the same tool: same parameter parsing (strings in, pydantic coercion),
  same validation errors, same redaction, same size bounds and "omitted" notes. A runbook step that
  works in the drill therefore works for the agent, and vice versa;
* there is one mapping of flat string parameters to domain arguments (the adapter's), so adding a
  parameter to an operation cannot leave the fallback behind;
* the cost is importing Powertools' resolver (already paid by every tool Lambda, ~170 ms once per
  container) and one small dict per call — negligible next to a Kubernetes or CloudWatch round trip.
  Each handler module is imported only when a step first needs it.

Tickets are the exception: the trigger files its RCA through the tickets *domain* API (a ticket body
is bigger and more structured than one tool call's flat parameters).

Mutations are refused here unless the caller opts in (``allow_mutations``): the fallback proposes,
it never acts.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsagent import catalogue
from opsagent.context import CallContext
from opsagent.errors import InvalidInput


class OperationSpec(BaseModel):
    operation_id: str
    action_group: str
    method: Literal["GET", "POST"]
    api_path: str = Field(description="Bedrock apiPath template, e.g. /namespaces/{namespace}/pods")
    mutating: bool = False
    body: tuple[str, ...] = Field(default=(), description="Parameters sent in requestBody (POST)")

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.api_path)


# The catalogue's operations (opsagent.catalogue). A POST's requestBody carries its body parameters.
OPERATIONS: dict[str, OperationSpec] = {
    t.name: OperationSpec(
        operation_id=t.name,
        action_group=t.group,
        method=t.method,
        api_path=t.path,
        mutating=t.mutation,
        body=tuple(p.name for p in t.params_in("body")),
    )
    for t in catalogue.TOOLS
}
READ_ONLY = frozenset(k for k, v in OPERATIONS.items() if not v.mutating)
_BY_ROUTE = {(s.action_group, s.api_path): s for s in OPERATIONS.values()}


def spec_for_route(action_group: str, api_path: str) -> OperationSpec | None:
    """The operation behind an agent trace's (actionGroupName, apiPath)."""
    return _BY_ROUTE.get((action_group, api_path))


class ToolResult(BaseModel):
    """One operation call and what came back (the text is what the model sees)."""

    ref: str = Field(description="Citation handle within the investigation: T1, T2, ...")
    operation: str | None
    action_group: str
    api_path: str = ""
    parameters: dict[str, str] = Field(default_factory=dict)
    source: Literal["enrichment", "agent", "runbook"] = "runbook"
    status: int | None = Field(default=None, description="HTTP status the tool returned; None if unknown")
    text: str = Field(default="", description="The tool's response body (bounded by the tool)")
    why: str | None = None
    duration_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def body(self) -> Any:
        """Decoded JSON body, or None when the text is not JSON."""
        try:
            return json.loads(self.text)
        except (TypeError, ValueError):
            return None


Dispatch = Callable[[str, dict, Any], dict]
"""(action_group, bedrock_event, lambda_context) -> bedrock response envelope."""


def resolver_dispatch(action_group: str, event: dict, context: Any) -> dict:
    """Invoke ``opsagent.handlers.<group>.app`` in-process (lazy import)."""
    module = importlib.import_module(f"opsagent.handlers.{action_group}")
    return module.app.resolve(event, context)


def lambda_dispatch(
    functions: Mapping[str, str], *, fallback: Dispatch | None = resolver_dispatch
) -> Dispatch:
    """Send the same event to the deployed action-group Lambda (``lambda:InvokeFunction``,
    RequestResponse) for groups listed in ``functions`` (group -> function name or ARN).

    With it the trigger's role needs no Kubernetes or CloudWatch permissions of its own: each tool
    runs under its own least-privilege role, with its own logs and metrics, exactly as for the agent.
    Groups not listed use ``fallback`` (in-process by default)."""

    def dispatch(action_group: str, event: dict, context: Any) -> dict:
        function = functions.get(action_group)
        if not function:
            if fallback is None:
                raise InvalidInput(f"no function configured for action group {action_group}")
            return fallback(action_group, event, context)
        from opsagent.aws import client

        response = client("lambda").invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            detail = payload.decode(errors="replace")[:300]
            raise RuntimeError(f"{function} failed ({response['FunctionError']}): {detail}")
        return json.loads(payload)

    return dispatch


class OperationRunner:
    """Calls operations on behalf of one incident and numbers the results T1, T2, ..."""

    def __init__(
        self,
        ctx: CallContext,
        *,
        dispatch: Dispatch | None = None,
        lambda_context: Any = None,
        allow_mutations: bool = False,
        input_text: str = "alarm-triggered investigation",
    ) -> None:
        self.ctx = ctx
        self._dispatch = dispatch or resolver_dispatch
        self._lambda_context = lambda_context
        self.allow_mutations = allow_mutations
        self.input_text = input_text
        self.results: list[ToolResult] = []

    def next_ref(self) -> str:
        return f"T{len(self.results) + 1}"

    def event_for(self, spec: OperationSpec, params: Mapping[str, str]) -> dict:
        """A Bedrock action-group event in the real shape (string values, template apiPath)."""
        query = {k: v for k, v in params.items() if k not in spec.body}
        body = {k: v for k, v in params.items() if k in spec.body}
        event: dict[str, Any] = {
            "messageVersion": "1.0",
            "agent": {
                "name": "opsagent",
                "id": self.ctx.agent_id,
                "alias": self.ctx.agent_alias,
                "version": "DRAFT",
            },
            "inputText": self.input_text,
            "sessionId": self.ctx.session_id,
            "actionGroup": spec.action_group,
            "apiPath": spec.api_path,
            "httpMethod": spec.method,
            "parameters": [{"name": k, "type": "string", "value": str(v)} for k, v in query.items()],
            "sessionAttributes": {"incident_id": self.ctx.incident_id, "trigger": self.ctx.trigger},
            "promptSessionAttributes": {},
        }
        if spec.method == "POST":
            event["requestBody"] = {
                "content": {
                    "application/json": {
                        "properties": [
                            {"name": k, "type": "string", "value": str(v)} for k, v in body.items()
                        ]
                    }
                }
            }
        return event

    def run(
        self,
        operation_id: str,
        params: Mapping[str, str],
        *,
        source: Literal["enrichment", "agent", "runbook"] = "runbook",
        why: str | None = None,
    ) -> ToolResult:
        spec = OPERATIONS.get(operation_id)
        if spec is None:
            raise InvalidInput(f"unknown operation {operation_id!r}", allowed=sorted(OPERATIONS))
        if spec.mutating and not self.allow_mutations:
            raise InvalidInput(
                f"{operation_id} changes state; this runner only reads", operation=operation_id
            )
        missing = [p for p in spec.path_params if not params.get(p)]
        clean = {k: str(v) for k, v in params.items() if v is not None}
        started = time.monotonic()
        if missing:  # an error result, not a call (as the resolver would answer)
            status = 400
            text = json.dumps({"error": "invalid_input", "message": f"missing path parameter(s) {missing}"})
        else:
            try:
                envelope = self._dispatch(
                    spec.action_group, self.event_for(spec, clean), self._lambda_context
                )
                response = envelope["response"]
                status = int(response.get("httpStatusCode") or 200)
                text = response["responseBody"]["application/json"]["body"]
                if not isinstance(text, str):
                    text = json.dumps(text, default=str)
            except Exception as exc:  # an escaped exception is a failed tool call, like a failed agent turn
                status = 500
                text = json.dumps(
                    {"error": "tool_failed", "message": f"{type(exc).__name__}: {str(exc)[:200]}"}
                )
        result = ToolResult(
            ref=self.next_ref(),
            operation=operation_id,
            action_group=spec.action_group,
            api_path=spec.api_path,
            parameters=clean,
            source=source,
            status=status,
            text=text,
            why=why,
            duration_ms=None if missing else int((time.monotonic() - started) * 1000),
        )
        self.results.append(result)
        return result

    def record(self, result: ToolResult) -> ToolResult:
        """Add a result produced elsewhere (an agent trace), renumbered in this investigation."""
        result = result.model_copy(update={"ref": self.next_ref()})
        self.results.append(result)
        return result
