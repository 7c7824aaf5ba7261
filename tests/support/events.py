"""Real-format events in, Bedrock envelopes out."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from opsagent_sim.samples import SAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]
LOCAL_EVENTS = ROOT / "tests" / "fixtures" / "events"


def load_event(name: str) -> dict:
    """A real-format sample event by file name (without .json): the alarm events the drill also uses
    (``opsagent_sim/samples``), the Bedrock action-group events (``tests/fixtures/events``)."""
    for folder in (SAMPLES_DIR, LOCAL_EVENTS):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"no sample event {name!r} in {SAMPLES_DIR} or {LOCAL_EVENTS}")


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
