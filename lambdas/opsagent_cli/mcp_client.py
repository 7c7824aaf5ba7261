"""MCP over streamable HTTP for ``opsagent tools --remote`` and ``opsagent call`` (the AgentCore
Gateway's ``/mcp`` endpoint), with the official MCP Python SDK (``mcp``, the ``cli`` extra).

Import cost, measured here (``python -X importtime``, 2-core machine shared by several sessions): the
SDK's client (type models, in-memory server, httpx2) costs 0.56-0.73 s quiet and up to 1.3-1.9 s under
load, on top of ``opsagent_cli.main`` at 0.12-0.27 s. So this module is imported only by the
commands that talk MCP (``gateway_cmd`` imports it inside them); ``ask``/``chat`` never pay for
it. A hand-written JSON-RPC client would import in milliseconds, but would have to re-implement the
handshake, session ids, protocol-version headers and SSE-framed responses that the SDK keeps
current with the specification.

Protocol: ``mode="legacy"`` — the initialize handshake (revisions up to 2025-11-25), which is what
the Gateway speaks; its ``protocol_configuration.mcp.supported_versions`` must include the revision
the client offers (:data:`CLIENT_PROTOCOL_VERSION`) or one the server counter-offers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx2
from mcp_types.version import LATEST_HANDSHAKE_VERSION

CLIENT_PROTOCOL_VERSION = LATEST_HANDSHAKE_VERSION
TIMEOUT_SECONDS = 60.0
T = TypeVar("T")


class GatewayUnavailable(Exception):
    """The gateway could not be reached or refused us before any tool ran (exit 3)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # auth | connect | timeout | protocol
        self.message = message


@dataclass(frozen=True)
class RemoteTool:
    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    read_only: bool | None = None  # the MCP readOnlyHint annotation, when the server gives one


@dataclass(frozen=True)
class ToolOutcome:
    is_error: bool
    text: str
    structured: Any = None

    def body(self) -> Any:
        """The JSON the tool answered (structured content, else the text parsed), or None."""
        if self.structured is not None:
            return self.structured
        try:
            return json.loads(self.text)
        except ValueError:
            return None


class BearerAuth(httpx2.Auth):
    """``Authorization: Bearer <JWT>`` (a Cognito access token for a ``CUSTOM_JWT`` gateway)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx2.Request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class SigV4Auth(httpx2.Auth):
    """SigV4 for an ``AWS_IAM`` gateway: each request signed for ``bedrock-agentcore`` with the
    caller's credentials (botocore's signer; the body is part of the signature)."""

    requires_request_body = True

    def __init__(self, credentials: Any, region: str, service: str = "bedrock-agentcore") -> None:
        self._credentials, self._region, self._service = credentials, region, service

    def auth_flow(self, request: httpx2.Request):
        from botocore.auth import SigV4Auth as BotoSigner
        from botocore.awsrequest import AWSRequest

        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
        )
        BotoSigner(self._credentials, self._service, self._region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        yield request


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _flatten(inner)]
    return [exc]


def _unavailable(exc: BaseException, url: str) -> GatewayUnavailable | None:
    """Map what the SDK/httpx2 raise before a tool answers to a readable reason (None: not ours)."""
    from mcp.shared.exceptions import MCPError

    for leaf in _flatten(exc):
        if isinstance(leaf, GatewayUnavailable):
            return leaf
        if isinstance(leaf, httpx2.HTTPStatusError):
            status = leaf.response.status_code
            reason = "auth" if status in (401, 403) else "protocol"
            return GatewayUnavailable(reason, f"{url} answered HTTP {status}")
        if isinstance(leaf, httpx2.TimeoutException | TimeoutError):
            return GatewayUnavailable("timeout", f"{url} did not answer in time")
        if isinstance(leaf, httpx2.TransportError | OSError):
            return GatewayUnavailable("connect", f"cannot reach {url}: {type(leaf).__name__}: {leaf}")
        if isinstance(leaf, MCPError):
            text = str(leaf)
            low = text.lower()
            auth = any(w in low for w in ("401", "403", "unauthorized", "forbidden", "authenticat"))
            return GatewayUnavailable("auth" if auth else "protocol", f"{url}: {text[:300]}")
    return None


class GatewayClient:
    """One MCP session per command (connect, initialize, work, close)."""

    def __init__(
        self,
        url: str,
        auth: httpx2.Auth | None,
        *,
        timeout: float = TIMEOUT_SECONDS,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url, self.auth, self.timeout, self.headers = url, auth, timeout, dict(headers or {})

    def _run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def main() -> T:
            async with httpx2.AsyncClient(
                auth=self.auth,
                headers=self.headers,
                timeout=httpx2.Timeout(self.timeout),
                event_hooks={"response": [_raise_on_auth_failure]},
            ) as http:
                transport = streamable_http_client(self.url, http_client=http, terminate_on_close=True)
                async with Client(
                    transport, mode="legacy", read_timeout_seconds=self.timeout, cache=None
                ) as client:
                    return await work(client)

        try:
            return anyio.run(main)
        except Exception as exc:
            mapped = _unavailable(exc, self.url)
            if mapped is None:
                raise
            raise mapped from None

    def list_tools(self) -> list[RemoteTool]:
        async def work(client: Any) -> list[RemoteTool]:
            return await _all_tools(client)

        return self._run(work)

    def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """``tools/call``; an answer with ``isError`` is an outcome, not an exception."""

        async def work(client: Any) -> ToolOutcome:
            result = await client.call_tool(name, arguments)
            text = "\n".join(
                getattr(item, "text", "") for item in result.content if getattr(item, "type", "") == "text"
            )
            return ToolOutcome(
                is_error=bool(result.is_error),
                text=text,
                structured=getattr(result, "structured_content", None),
            )

        return self._run(work)


async def _raise_on_auth_failure(response: httpx2.Response) -> None:
    """A 401/403 from the gateway (bad or expired token, wrong signature) stops the command with
    a clear reason instead of whatever the transport would make of an HTML or empty body."""
    if response.status_code in (401, 403):
        await response.aread()
        detail = " ".join(response.text.split())[:200]
        hint = response.headers.get("WWW-Authenticate", "")
        raise GatewayUnavailable(
            "auth",
            f"the gateway refused the credentials (HTTP {response.status_code})"
            + (f": {detail}" if detail else "")
            + (f" [{hint[:200]}]" if hint else ""),
        )


async def _all_tools(client: Any) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    for _ in range(50):  # pages; a loop guard, not a limit anyone should reach
        page = await client.list_tools(cursor=cursor)
        for tool in page.tools:
            annotations = getattr(tool, "annotations", None)
            tools.append(
                RemoteTool(
                    name=tool.name,
                    description=tool.description or "",
                    input_schema=dict(tool.input_schema or {}),
                    read_only=getattr(annotations, "read_only_hint", None) if annotations else None,
                )
            )
        cursor = getattr(page, "next_cursor", None)
        if not cursor:
            break
    return tools
