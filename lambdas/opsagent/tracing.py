"""X-Ray SDK tracing, opt-in with ``OPSAGENT_XRAY_SDK=true``.

Creating the X-Ray recorder builds a botocore session for its sampler and parses the endpoint data:
~300 ms of every cold start on this machine, more than the whole action-group code. The stack turns
on Lambda's Active tracing, which records every invocation (init, duration, errors) without the
SDK; the SDK adds per-call subsegments for teams that want them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict, Any], Any]


def xray_sdk_enabled() -> bool:
    return os.environ.get("OPSAGENT_XRAY_SDK", "false").strip().lower() in ("1", "true", "yes")


def build_tracer() -> Any:
    """A Powertools ``Tracer`` when the SDK is on, else ``None`` (nothing imported)."""
    if not xray_sdk_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


def traced(handler: Handler, tracer: Any = None) -> Handler:
    """``tracer.capture_lambda_handler`` when the SDK is on, the handler itself otherwise."""
    tracer = tracer if tracer is not None else build_tracer()
    if tracer is None:
        return handler
    return tracer.capture_lambda_handler(capture_response=False)(handler)
