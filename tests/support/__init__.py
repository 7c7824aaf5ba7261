"""Helpers shared by the test areas (import as ``from support import ...``)."""

from support.events import bedrock_event, load_event, response_body

__all__ = ["bedrock_event", "load_event", "response_body"]
