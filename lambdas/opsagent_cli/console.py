"""Terminal rendering for ``opsagent ask/chat``: the streamed answer on stdout; traces, confirmation
prompts and errors on stderr. Everything the agent or a tool produced is untrusted text: control
characters (terminal escape sequences included) are removed before printing."""

from __future__ import annotations

import re
from typing import IO

from opsagent.agent_runtime import AgentTurn, ApiInvocation, ConfirmationRequest, StreamEvent, ToolCall

# C0/C1 controls (ESC, CR, BEL ...; not \t \n) and the bidi controls that can make text display
# differently from what it is (U+202E would show "replicas: 05" for a value of 50).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
RATIONALE_CHARS = 600
OBSERVATION_CHARS = 300
PARAM_CHARS = 200


def clean(text: str | None) -> str:
    """Drop control characters (ESC, CR, BEL, C1, bidi overrides ...) but keep newlines and tabs."""
    return _CONTROL.sub("", text or "")


def clip(text: str, limit: int) -> str:
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1] + f"… (+{len(text) - limit + 1} chars)"


def one_line(text: str, limit: int) -> str:
    return clip(" ".join((text or "").split()), limit)


def _describe(
    action_group: str, operation: str | None, method: str, path: str, params: dict[str, str]
) -> str:
    name = f"{action_group}.{operation or method + ' ' + path}"
    args = " ".join(f"{k}={one_line(v, PARAM_CHARS)}" for k, v in params.items())
    return clean(f"{name} {args}".rstrip())


def describe_call(call: ToolCall) -> str:
    params = {**call.parameters, **call.request_body}
    return _describe(call.action_group, call.operation, call.verb, call.api_path, params)


def describe_invocation(item: ApiInvocation) -> str:
    params = {**item.parameters, **item.request_body}
    return _describe(item.action_group, item.operation, item.http_method, item.api_path, params)


class Console:
    def __init__(self, out: IO[str], err: IO[str], *, trace: bool = False) -> None:
        self.out, self.err, self.trace = out, err, trace
        self._line_open = False  # answer text written without a trailing newline

    # -- stream
    def on_event(self, event: StreamEvent) -> None:
        if event.type == "chunk":
            text = clean(event.text)
            if text:  # a chunk that was only control characters changes nothing
                self.out.write(text)
                self.out.flush()
                self._line_open = not text.endswith("\n")
            return
        if event.type == "failure":
            self.note(f"! agent failure: {one_line(event.text or '', 500)}")
        elif event.type == "guardrail" and event.text == "INTERVENED":
            self.note("! guardrail intervened")
        if not self.trace:
            return
        if event.type == "rationale":
            self.note(f"· thinking: {one_line(event.text or '', RATIONALE_CHARS)}")
        elif event.type == "tool_call" and event.tool_call:
            self.note(f"→ {describe_call(event.tool_call)}")
        elif event.type == "observation":
            text = event.text or ""
            self.note(f"← {len(text)} chars: {one_line(text, OBSERVATION_CHARS)}")
        elif event.type == "kb_lookup":
            refs = event.data.get("references")
            detail = ", ".join(clean(str(r)) for r in refs[:5] if r) if refs else ""
            self.note(
                f"· knowledge base: {one_line(event.text or '', 200)}{' — ' + detail if detail else ''}"
            )

    def note(self, text: str) -> None:
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False
        self.err.write(text + "\n")
        self.err.flush()

    def end_turn(self, turns: list[AgentTurn]) -> None:
        """After a question is done (its turns: the answer plus one per confirmation)."""
        if self._line_open:
            self.out.write("\n")
            self.out.flush()
            self._line_open = False
        if self.trace and turns:
            tokens_in = sum(t.usage.input_tokens for t in turns)
            tokens_out = sum(t.usage.output_tokens for t in turns)
            calls = sum(len(t.tool_calls) for t in turns)
            session = turns[-1].session_id
            self.note(f"· tokens: in={tokens_in} out={tokens_out} · tool calls: {calls} · session: {session}")

    # -- confirmation
    def show_confirmation(self, request: ConfirmationRequest) -> None:
        count = len(request.inputs)
        self.note("")
        self.note(
            "The agent wants to run a change:" if count <= 1 else f"The agent wants to run {count} changes:"
        )
        for number, item in enumerate(request.inputs, 1):
            if count > 1:
                self.note(f" change {number} of {count}:")
            name = f"{item.action_group}.{item.operation or '?'}"
            self.note(f"  {clean(name)}  {clean(item.http_method)} {clean(item.api_path)}")
            for key, value in {**item.parameters, **item.request_body}.items():
                self.note(f"    {clean(key)}: {one_line(value, PARAM_CHARS)}")
