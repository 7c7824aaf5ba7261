"""The agent instruction (versioned prompt file)."""

from __future__ import annotations

from pathlib import Path

PROMPT = Path(__file__).resolve().parents[2] / "infra" / "prompts" / "agent-instruction-v1.md"
OPERATIONS = [
    "listPods",
    "describePod",
    "getPodLogs",
    "queryMetric",
    "listActiveAlarms",
    "getDeployment",
    "scaleDeployment",
    "createTicket",
    "searchTickets",
    "addTicketComment",
]


def text() -> str:
    return PROMPT.read_text().strip()


def test_instruction_fits_the_bedrock_limit():
    assert 40 <= len(text()) <= 4000, len(text())


def test_instruction_names_every_tool():
    missing = [op for op in OPERATIONS if op not in text()]
    assert not missing


def test_instruction_carries_the_safety_rules():
    t = text().lower()
    for phrase in (
        "untrusted",
        "never propose or request scaling outside the configured policy",
        "confirmation",
        "citing the tool call",
        "never reveal",
        "do not invent",
    ):
        assert phrase in t, phrase


def test_instruction_lets_the_runtime_ask_for_confirmation():
    """Issue 10 item 9: Bedrock's returnControl asks the person before every scaleDeployment (dry
    runs included), so asking in text or previewing first makes people confirm twice."""
    t = text().lower()
    assert "prefer dry_run" not in t and "before asking" not in t
    for phrase in (
        "call getdeployment, then call scaledeployment",
        "smallest step in the allowed range",
        "do not ask for permission in text",
        "from -> to",
        "undo",
        "state it as a proposal",
        "do not retry",
    ):
        assert phrase in t, phrase
