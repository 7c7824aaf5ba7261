"""The two front doors' envelopes, checked before anything runs (no Powertools import).

* Bedrock action-group events: every malformed envelope (not an object, missing/non-string
  ``apiPath``/``httpMethod``, non-object ``sessionAttributes``/``agent``, ``parameters`` not a list of
  {name, type, value}, ``requestBody``/``properties`` of the wrong shape) is named by
  :func:`bedrock_problem` and answered as a 400 ``invalid_input`` in a well-formed envelope.
* AgentCore Gateway Lambda-target invocations: the event is the tool's arguments and the tool name is
  in ``context.client_context.custom["bedrockAgentCoreToolName"]`` as ``<target>___<tool>``;
  :func:`gateway_to_bedrock` turns them into the Bedrock event the same resolver answers, so
  validation, policy, idempotency, audit and body bounds are the same code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any

from opsagent import catalogue

MESSAGE_VERSION = "1.0"
_SCALAR = (str, int, float, bool)
_SESSION_MAPS = ("sessionAttributes", "promptSessionAttributes", "agent")
_STRING_FIELDS = ("actionGroup", "sessionId", "inputText", "messageVersion")

#: Reserved argument a Gateway REQUEST interceptor sets to the verified caller (JWT ``sub`` or IAM
#: principal). Trusted only when the deployment says an interceptor overwrites it
#: (``OPSAGENT_GATEWAY_CALLER_FROM_INTERCEPTOR=true``); otherwise a client sending it is refused, so
#: nobody can write someone else's name into the audit trail.
CALLER_ARGUMENT = "_opsagent_caller"
_CALLER_SAFE = re.compile(r"[^A-Za-z0-9@._:/+=-]")


class EnvelopeError(ValueError):
    """The envelope (not the tool's arguments) is malformed; the message names the problem."""


# ------------------------------------------------------------------------------------ Bedrock
def bedrock_problem(event: Any) -> str | None:
    """What is wrong with a Bedrock action-group event's envelope, or None if it is well formed."""
    if not isinstance(event, dict):
        return f"the event must be a JSON object, not {_kind(event)}"
    if not event:
        return "the event is empty"
    for key in ("apiPath", "httpMethod"):
        value = event.get(key)
        if not isinstance(value, str) or not value.strip():
            return f"{key} is missing or not a non-empty string"
    if not event["apiPath"].startswith("/"):
        return "apiPath must start with /"
    for key in _STRING_FIELDS:
        if key in event and event[key] is not None and not isinstance(event[key], str):
            return f"{key} must be a string, not {_kind(event[key])}"
    for key in _SESSION_MAPS:
        if key in event and event[key] is not None and not isinstance(event[key], dict):
            return f"{key} must be an object, not {_kind(event[key])}"
    problem = _properties_problem(event.get("parameters"), "parameters")
    if problem:
        return problem
    body = event.get("requestBody")
    if body is None:
        return None
    if not isinstance(body, dict):
        return f"requestBody must be an object, not {_kind(body)}"
    content = body.get("content")
    if not isinstance(content, dict):
        return "requestBody.content must be an object of media types"
    for media, value in content.items():
        if not isinstance(value, dict):
            return f"requestBody.content.{str(media)[:40]} must be an object"
        problem = _properties_problem(
            value.get("properties"), f"requestBody.content.{str(media)[:40]}.properties"
        )
        if problem:
            return problem
    return None


def _properties_problem(items: Any, where: str) -> str | None:
    if items is None:
        return None
    if not isinstance(items, list):
        return f"{where} must be a list of {{name, type, value}}, not {_kind(items)}"
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return f"{where}[{i}] must be an object {{name, type, value}}, not {_kind(item)}"
        name = item.get("name")
        if not isinstance(name, str) or not name:
            return f"{where}[{i}].name is missing or not a string"
        if "type" in item and not isinstance(item["type"], str):
            return f"{where}[{i}].type must be a string"
        if "value" in item and item["value"] is not None and not isinstance(item["value"], _SCALAR):
            return f"{where}[{i}].value must be a string, not {_kind(item['value'])}"
        if name in seen:
            return f"{where} names {name[:64]!r} twice"
        seen.add(name)
    return None


def normalized(event: dict, *, action_group: str) -> dict:
    """The event with the verb in upper case (Bedrock's samples differ), scalar values as strings and
    the optional envelope fields Powertools reads filled in (an absent ``actionGroup`` is this one)."""
    out = {
        "messageVersion": MESSAGE_VERSION,
        "actionGroup": action_group,
        "sessionId": "",
        "inputText": "",
        "sessionAttributes": {},
        "promptSessionAttributes": {},
        "agent": {},
        **{k: v for k, v in event.items() if v is not None},
        "httpMethod": event["httpMethod"].strip().upper(),
    }
    if event.get("parameters") is not None:
        out["parameters"] = [_stringified(p) for p in event["parameters"]]
    body = event.get("requestBody")
    if body is not None:
        out["requestBody"] = {
            **body,
            "content": {
                media: {**value, "properties": [_stringified(p) for p in value.get("properties") or []]}
                for media, value in body["content"].items()
            },
        }
    return out


def _stringified(item: dict) -> dict:
    value = item.get("value")
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif value is not None and not isinstance(value, str):
        value = str(value)
    return {"type": "string", **item, "value": value if value is not None else ""}


def bedrock_response(event: Any, *, action_group: str, status: int, body: dict[str, Any]) -> dict:
    """A well-formed Bedrock action-group response, echoing what can be echoed from the request."""
    src = event if isinstance(event, dict) else {}

    def echo(key: str, fallback: str) -> str:
        value = src.get(key)
        return value[:512] if isinstance(value, str) else fallback

    out: dict[str, Any] = {
        "messageVersion": MESSAGE_VERSION,
        "response": {
            "actionGroup": echo("actionGroup", action_group),
            "apiPath": echo("apiPath", ""),
            "httpMethod": echo("httpMethod", "").upper(),
            "httpStatusCode": status,
            "responseBody": {"application/json": {"body": json.dumps(body, default=str)}},
        },
    }
    for key in ("sessionAttributes", "promptSessionAttributes"):
        if isinstance(src.get(key), dict):
            out[key] = src[key]
    return out


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


# ------------------------------------------------------------------------------------ Gateway
def gateway_custom(context: Any) -> dict[str, Any] | None:
    """``context.client_context.custom`` when this is a Gateway invocation, else None."""
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    if isinstance(custom, dict) and isinstance(custom.get("bedrockAgentCoreToolName"), str):
        return custom
    return None


def gateway_to_bedrock(
    arguments: Any, custom: dict[str, Any], *, group: str, now: dt.datetime | None = None
) -> tuple[catalogue.Tool, dict]:
    """(the tool, the Bedrock event the resolver answers) for one Gateway invocation.

    Raises :class:`EnvelopeError` (-> 400/404) for an unknown tool, arguments that are not an object,
    an argument the tool does not declare, or a value of the wrong JSON type. Bounds and domain
    validation stay in the resolver, exactly as for Bedrock."""
    _, name = catalogue.split_gateway_tool_name(custom["bedrockAgentCoreToolName"])
    try:
        t = catalogue.tool(name)
    except KeyError:
        raise EnvelopeError(f"unknown tool {name[:64]!r}") from None
    if t.group != group:
        raise EnvelopeError(f"tool {name!r} is not served by the {group} target")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise EnvelopeError(f"the tool arguments must be a JSON object, not {_kind(arguments)}")
    args = dict(arguments)
    caller = _caller(args.pop(CALLER_ARGUMENT, None), present=CALLER_ARGUMENT in arguments)
    declared = {p.name: p for p in t.params}
    unknown = sorted(k for k in args if k not in declared)
    if unknown:
        raise EnvelopeError(
            f"unknown argument(s) for {t.name}: {', '.join(str(k)[:40] for k in unknown[:5])}"
        )
    params: list[dict] = []
    body: list[dict] = []
    for key, value in args.items():
        if value is None:
            continue
        item = {"name": key, "type": declared[key].type, "value": _wire_value(declared[key], value)}
        (body if declared[key].location == "body" else params).append(item)

    gateway_id = _short(custom.get("bedrockAgentCoreGatewayId"), "unknown-gateway")
    target_id = _short(custom.get("bedrockAgentCoreTargetId"), "unknown-target")
    request_id = _short(
        custom.get("bedrockAgentCoreAwsRequestId") or custom.get("bedrockAgentCoreMcpMessageId"), ""
    )
    day = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")
    who = caller or "caller-unknown"
    event: dict[str, Any] = {
        "messageVersion": MESSAGE_VERSION,
        "actionGroup": t.group,
        "apiPath": t.path,
        "httpMethod": t.method,
        "parameters": params,
        # No Bedrock session: the caller is the session, and one incident per caller per gateway per
        # UTC day bounds the scaling budget (a conservative stand-in until the engine passes one).
        "sessionId": f"gw:{who}:{request_id}"[:100],
        "sessionAttributes": {"incident_id": f"gateway:{gateway_id}:{who}:{day}", "trigger": "gateway"},
        "promptSessionAttributes": {},
        "agent": {
            "id": f"gateway:{gateway_id}",
            "alias": f"target:{target_id}",
            "name": "gateway",
            "version": "",
        },
        "inputText": "",
    }
    if body:
        event["requestBody"] = {"content": {"application/json": {"properties": body}}}
    return t, event


def _wire_value(param: catalogue.Param, value: Any) -> str:
    """A JSON argument as the string Bedrock would send, refusing values of the wrong JSON type."""
    ok = {
        "string": isinstance(value, str),
        "integer": (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str),
        "boolean": isinstance(value, bool | str),
    }[param.type]
    if not ok:
        raise EnvelopeError(f"argument {param.name} must be {param.type}, not {_kind(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _caller(value: Any, *, present: bool) -> str | None:
    if not present:
        return None
    if os.environ.get("OPSAGENT_GATEWAY_CALLER_FROM_INTERCEPTOR", "").lower() != "true":
        raise EnvelopeError(f"{CALLER_ARGUMENT} is reserved for the gateway's request interceptor")
    if not isinstance(value, str) or not value.strip():
        raise EnvelopeError(f"{CALLER_ARGUMENT} must be a non-empty string")
    return _CALLER_SAFE.sub("_", value.strip())[:128]


def _short(value: Any, fallback: str) -> str:
    return _CALLER_SAFE.sub("_", value)[:64] if isinstance(value, str) and value else fallback


def gateway_result(status: int, body: Any) -> dict[str, Any]:
    """Plain JSON for the Gateway: the 200 body as is; any failure as
    ``{"error", "status", "message", "retryable", "rule"?, ...details}``."""
    if 200 <= status < 300 and isinstance(body, dict):
        return body
    if not isinstance(body, dict):
        body = {"message": str(body)[:500]}
    out = {
        "error": str(body.get("error") or "internal_error"),
        "status": status,
        "message": str(body.get("message") or "the tool failed"),
        "retryable": bool(body.get("retryable", status in (429, 503, 504))),
    }
    return {**out, **{k: v for k, v in body.items() if k not in out}}
