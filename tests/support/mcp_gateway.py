"""A local stand-in for the AgentCore Gateway's MCP endpoint: the official MCP SDK's server over
streamable HTTP on 127.0.0.1 (uvicorn in a thread), exposing the catalogue's tools under their
gateway names (``<target>___<tool>``), behind a bearer-token or SigV4 check like the gateway's
inbound authorizer.

Backend: each call is answered by a function ``(tool, arguments) -> (is_error, body)``. The default
one applies the real in-code scaling policy (``opsagent.scaling.policy.evaluate``) to
``scaleDeployment`` and answers with the domain error body (``PolicyRefused.to_body``) the handlers
return; reads answer a small JSON document naming the tool and its arguments.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
import uvicorn
from mcp.server.lowlevel.server import Server

from opsagent.errors import PolicyRefused
from opsagent.gateway_policy.tools import default_tools
from opsagent.scaling.policy import ScalingPolicy, evaluate

Backend = Callable[[str, dict[str, Any]], tuple[bool, dict[str, Any]]]
GOOD_TOKEN = "good-token"


def policy_backend(policy: ScalingPolicy) -> Backend:
    def backend(tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        name = tool.split("___", 1)[-1]
        if name == "scaleDeployment":
            decision = evaluate(
                policy, arguments["namespace"], arguments["deployment"], arguments["replicas"]
            )
            if not decision.allowed:
                error = PolicyRefused(decision.reason, rule=decision.rule or "?", limit=decision.limit)
                return True, {**error.to_body(), "status": error.status_code}
            return False, {"outcome": "scaled", "after": arguments["replicas"], "audit_id": "A-1"}
        if name == "describePod" and arguments.get("pod") == "boom":
            return True, {"error": "internal_error", "status": 500, "message": "RuntimeError in the tool"}
        return False, {"tool": name, "arguments": arguments}

    return backend


@dataclass
class LocalGateway:
    url: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authorized(headers: dict[str, str], auth: str, accept: Callable[[str], bool] | None) -> bool:
    value = headers.get("authorization", "")
    if auth == "jwt":
        token = value.removeprefix("Bearer ")
        return value.startswith("Bearer ") and (accept(token) if accept else token == GOOD_TOKEN)
    # SigV4: the shape of a signed request (the signature itself is botocore's business)
    return (
        value.startswith("AWS4-HMAC-SHA256 Credential=")
        and "/bedrock-agentcore/aws4_request" in value
        and "x-amz-date" in headers
    )


@contextlib.contextmanager
def local_gateway(
    backend: Backend, *, auth: str = "jwt", accept: Callable[[str], bool] | None = None
) -> Iterator[LocalGateway]:
    tools = default_tools()
    gateway = LocalGateway(url="")

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.mcp_name,
                    description=f"{t.name} ({'mutation' if t.mutating else 'read'})",
                    input_schema=t.input_schema,
                    annotations=types.ToolAnnotations(read_only_hint=not t.mutating),
                )
                for t in tools
            ]
        )

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        gateway.calls.append((params.name, arguments))
        is_error, body = backend(params.name, arguments)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(body))], is_error=is_error
        )

    server = Server("local-gateway", on_list_tools=list_tools, on_call_tool=call_tool)
    app = server.streamable_http_app(json_response=True)

    async def guarded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            gateway.headers.append(headers)
            if not _authorized(headers, auth, accept):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"message":"Unauthorized"}'})
                return
        await app(scope, receive, send)

    port = _free_port()
    config = uvicorn.Config(guarded, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("local MCP server did not start")
        time.sleep(0.02)
    gateway.url = f"http://127.0.0.1:{port}/mcp"
    try:
        yield gateway
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
