"""Who is asking, for which incident: the one piece of envelope data domain operations need.

Action-group adapters build it from the Bedrock event; the alarm trigger and the CLI build it
directly. Domain code takes a ``CallContext`` and never sees an event."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Trigger = Literal["console", "cli", "alarm", "drill", "test", "gateway"]


class CallContext(BaseModel):
    incident_id: str = Field(description="Incident key: <alarm name>@<state timestamp>, or the session id")
    session_id: str
    agent_id: str = "local"
    agent_alias: str = "local"
    trigger: Trigger = "console"

    @classmethod
    def from_bedrock_event(cls, event: dict[str, Any]) -> CallContext:
        """``sessionAttributes.incident_id``/``trigger`` are set by the trigger Lambda and the CLI;
        a console chat has neither, so the session is the incident."""
        attrs = event.get("sessionAttributes") or {}
        agent = event.get("agent") or {}
        session_id = str(event.get("sessionId") or "unknown-session")
        trigger = attrs.get("trigger", "console")
        if trigger not in ("console", "cli", "alarm", "drill", "test", "gateway"):
            trigger = "console"
        return cls(
            incident_id=str(attrs.get("incident_id") or session_id)[:256],
            session_id=session_id[:100],
            agent_id=str(agent.get("id") or "unknown")[:64],
            agent_alias=str(agent.get("alias") or "unknown")[:64],
            trigger=trigger,
        )
