"""Real-format events in, Bedrock envelopes out."""

from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_EVENTS = ROOT.parent / "shared" / "fixtures" / "events"
LOCAL_EVENTS = ROOT / "tests" / "fixtures" / "events"


def load_event(name: str) -> dict:
    """A sample event by file name (without .json): the project's own fixtures first, then the
    shared real-format samples."""
    for folder in (LOCAL_EVENTS, SHARED_EVENTS):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"no sample event {name!r} in {LOCAL_EVENTS} or {SHARED_EVENTS}")


def bedrock_event(
    action_group: str,
    api_path: str,
    method: str = "GET",
    parameters: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
    session_attributes: dict[str, str] | None = None,
) -> dict:
    """A Bedrock action-group event in the real shape (sample ``bedrock-agent-get``), with string values."""
    event = copy.deepcopy(load_event("bedrock-agent-get"))
    event.update(actionGroup=action_group, apiPath=api_path, httpMethod=method)
    event["parameters"] = [{"name": k, "type": "string", "value": v} for k, v in (parameters or {}).items()]
    if body is not None:
        event["requestBody"] = {
            "content": {
                "application/json": {
                    "properties": [{"name": k, "type": "string", "value": v} for k, v in body.items()]
                }
            }
        }
    if session_attributes is not None:
        event["sessionAttributes"] = session_attributes
    return event


def response_body(result: dict) -> tuple[int, dict]:
    """Assert the Bedrock response envelope and return (status, decoded body)."""
    assert result["messageVersion"] == "1.0"
    resp = result["response"]
    assert set(resp) >= {"actionGroup", "apiPath", "httpMethod", "httpStatusCode", "responseBody"}
    body = resp["responseBody"]["application/json"]["body"]
    assert isinstance(body, str), "Bedrock wants the body as a JSON string"
    return resp["httpStatusCode"], json.loads(body)
