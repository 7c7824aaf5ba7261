"""A small Kubernetes REST client on urllib3 (already loaded by botocore: ~0 ms extra import).

Returns the JSON dicts the API server sends. One ``PoolManager`` per container (keep-alive across
invocations), explicit timeouts, bounded retries only for idempotent GETs on connection errors,
429 and 503, and every HTTP failure mapped to :mod:`opsagent.errors` with a message the model
can act on (a 403 names the verb, resource and namespace the function's role lacks).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from opsagent.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    OpsAgentError,
    PermissionMissing,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from opsagent.k8s.auth import NoToken, TokenSource
from opsagent.redaction import sanitize

log = logging.getLogger("opsagent.k8s")

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
USER_AGENT = "opsagent/0.1 (urllib3)"
MAX_JSON_BYTES = 32 * 1024 * 1024  # a page of 500 pods is ~1-3 MB; refuse anything absurd
MAX_ERROR_BYTES = 64 * 1024
DEFAULT_TEXT_BYTES = 64 * 1024
_PATH_OK = re.compile(r"/[A-Za-z0-9._~:@/-]*", re.ASCII)
_RETRY_STATUSES = (429, 503)
_FORBIDDEN = re.compile(
    r'cannot (\w+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?', re.ASCII
)


class KubeText(str):
    """Text from the API (pod logs). ``truncated`` says whether ``max_bytes`` cut it short."""

    truncated: bool = False
    bytes_read: int = 0


def describe_path(method: str, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Verb, resource (with subresource), namespace and name of a REST call, as RBAC sees it."""
    segs = [s for s in path.split("?")[0].split("/") if s]
    group = ""
    if segs[:1] == ["api"]:
        rest = segs[2:]
    elif segs[:1] == ["apis"]:
        group = segs[1] if len(segs) > 1 else ""
        rest = segs[3:]
    else:
        rest = segs
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) in (1, 2) and rest[0] == "namespaces":
        # the namespace object itself
        pass
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    method = method.upper()
    if method == "GET":
        watch = str((params or {}).get("watch", "")).lower() in ("1", "true")
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = {"PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}.get(
            method, method.lower()
        )
    return {"verb": verb, "resource": resource, "group": group, "namespace": namespace, "name": name}


def _short(text: Any, limit: int = 300) -> str:
    """Server- or library-supplied text for a model-facing message: control characters stripped,
    secrets redacted (a proxy or webhook may echo the bearer token back), cut to ``limit``."""
    return sanitize(str(text or ""), limit) or ""


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\")]+|\b[A-Za-z0-9.-]+\.eks\.amazonaws\.com\S*", re.IGNORECASE)


def _strip_urls(text: str) -> str:
    return _URL.sub("<endpoint>", text)


class KubeClient:
    """Kubernetes API client. Thread-safe; build it once per container (see ``get_kube``)."""

    def __init__(
        self,
        endpoint: str,
        *,
        auth: TokenSource | None = None,
        ca_file: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        get_retries: int = 2,
        backoff: float = 0.2,
        pool: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.auth: TokenSource = auth or NoToken()
        self.ca_file = ca_file
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.get_retries = get_retries
        self.backoff = backoff
        self._sleep = sleep
        if pool is None:
            kwargs: dict[str, Any] = {"num_pools": 2, "maxsize": 10, "retries": False}
            if endpoint.startswith("https://"):
                kwargs["cert_reqs"] = "CERT_REQUIRED"
                if ca_file:
                    kwargs["ca_certs"] = ca_file
            pool = urllib3.PoolManager(**kwargs)
        self._pool = pool

    def __repr__(self) -> str:
        return f"KubeClient(endpoint={self.endpoint!r}, auth={self.auth!r})"

    # ---- public API (the contract other areas code against) ------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._json("GET", path, params)

    def list(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of a collection, following ``metadata.continue`` page by page.
        ``limit`` caps the total number of items (and the requests made)."""
        if page_size < 1:
            raise ValueError("page_size must be positive")
        remaining = limit
        cont: str | None = None
        while remaining is None or remaining > 0:
            page = self.list_page(
                path,
                params,
                page_size=page_size if remaining is None else min(page_size, remaining),
                continue_token=cont,
            )
            items = page.get("items") or []
            for item in items:
                if remaining is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                yield item
            next_cont = (page.get("metadata") or {}).get("continue")
            if not next_cont:
                return
            if next_cont == cont:
                raise UpstreamUnavailable(
                    f"GET {path}: the API server returned the same continue token twice"
                )
            cont = next_cont

    def list_page(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = 500,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of a collection as returned (``items``, ``metadata.continue``,
        ``metadata.remainingItemCount`` when the server knows it)."""
        query = dict(params or {})
        query["limit"] = page_size
        if continue_token:
            query["continue"] = continue_token
        return self._json("GET", path, query)

    def get_text(
        self, path: str, params: Mapping[str, Any] | None = None, *, max_bytes: int = DEFAULT_TEXT_BYTES
    ) -> KubeText:
        """Plain text (pod logs), read at most ``max_bytes``; the result's ``truncated`` flag says
        whether more was available. Invalid UTF-8 is replaced, never raised."""
        resp = self._request("GET", path, params, accept="text/plain, */*", stream=True)
        try:
            data = resp.read(max_bytes + 1, decode_content=True)
        except (ReadTimeoutError, ProtocolError) as exc:
            raise self._transport_error("GET", path, exc) from None
        finally:
            resp.release_conn()
        truncated = len(data) > max_bytes
        data = data[:max_bytes]
        text = KubeText(data.decode("utf-8", errors="replace"))
        text.truncated = truncated
        text.bytes_read = len(data)
        return text

    def patch(self, path: str, body: Any, *, patch_type: str = "merge") -> dict[str, Any]:
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_TYPES)}")
        return self._json("PATCH", path, None, body=body, content_type=PATCH_TYPES[patch_type])

    def put(self, path: str, body: Any) -> dict[str, Any]:
        """Replace an object (e.g. a ``Scale`` carrying ``metadata.resourceVersion`` for
        optimistic concurrency: a stale version raises Conflict)."""
        return self._json("PUT", path, None, body=body, content_type="application/json")

    # ---- plumbing ------------------------------------------------------------------------------

    def _json(self, method: str, path: str, params: Mapping[str, Any] | None, **kw: Any) -> dict[str, Any]:
        resp = self._request(method, path, params, accept="application/json", stream=True, **kw)
        try:
            raw = resp.read(MAX_JSON_BYTES + 1, decode_content=True)
        except (ReadTimeoutError, ProtocolError) as exc:
            raise self._transport_error(method, path, exc) from None
        finally:
            resp.release_conn()
        if len(raw) > MAX_JSON_BYTES:
            raise UpstreamUnavailable(f"{method} {path}: response larger than {MAX_JSON_BYTES} bytes")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise UpstreamUnavailable(
                f"{method} {path}: the API server returned a body that is not JSON", status=resp.status
            ) from None
        if not isinstance(doc, dict):
            raise UpstreamUnavailable(f"{method} {path}: unexpected JSON ({type(doc).__name__})")
        return doc

    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        if not _PATH_OK.fullmatch(path) or "/../" in path + "/" or "/./" in path + "/" or "//" in path:
            raise InvalidInput(f"refusing a malformed API path {_short(path, 80)!r}", field="path")
        url = self.endpoint + quote(path, safe="/:@-._~")
        if params:
            query = {}
            for key, value in params.items():
                if value is None:
                    continue
                query[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if query:
                url += "?" + urlencode(query)
        return url

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        accept: str,
        stream: bool,
        body: Any = None,
        content_type: str | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = self._url(path, params)
        payload = None if body is None else json.dumps(body).encode()
        idempotent = method == "GET"
        attempts = 1 + (self.get_retries if idempotent else 0)
        reauthed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {"Accept": accept, "User-Agent": USER_AGENT}
            if content_type:
                headers["Content-Type"] = content_type
            token = self.auth.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            started = time.monotonic()
            try:
                resp = self._pool.request(
                    method,
                    url,
                    body=payload,
                    headers=headers,
                    timeout=self.timeout,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
            except (NewConnectionError, ProtocolError) as exc:
                # Connection refused/reset: the request did not complete; safe to retry a GET.
                if attempt < attempts:
                    self._pause(attempt)
                    continue
                raise self._transport_error(method, path, exc) from None
            except (ConnectTimeoutError, ReadTimeoutError, SSLError, HTTPError) as exc:
                raise self._transport_error(method, path, exc) from None
            status = resp.status
            log.debug("k8s %s %s -> %s in %.0f ms", method, path, status, (time.monotonic() - started) * 1000)
            if status < 400:
                if not stream:
                    resp.read()
                return resp
            if status == 401 and not reauthed and getattr(self.auth, "refreshable", False):
                # An expired/rotated token: mint a fresh one once (EKS), then give up.
                reauthed = True
                self.auth.invalidate()
                self._drain(resp)
                attempt -= 1
                continue
            if status in _RETRY_STATUSES and attempt < attempts:
                delay = self._retry_after(resp)
                self._drain(resp)
                self._pause(attempt, delay)
                continue
            try:
                raw = resp.read(MAX_ERROR_BYTES, decode_content=True)
            except HTTPError:
                raw = b""
            finally:
                resp.release_conn()
            raise self._http_error(method, path, params, status, raw)

    def _pause(self, attempt: int, at_least: float = 0.0) -> None:
        self._sleep(max(at_least, self.backoff * (2 ** (attempt - 1))))

    @staticmethod
    def _retry_after(resp: urllib3.BaseHTTPResponse) -> float:
        try:
            return min(float(resp.headers.get("Retry-After", "0")), 2.0)
        except ValueError:
            return 0.0

    @staticmethod
    def _drain(resp: urllib3.BaseHTTPResponse) -> None:
        with contextlib.suppress(HTTPError):
            resp.read(MAX_ERROR_BYTES)
        resp.release_conn()

    def _transport_error(self, method: str, path: str, exc: Exception) -> OpsAgentError:
        # The cluster endpoint goes to the log only, never into a model-facing body (issue 11.8).
        where = f"{method} {path}"
        log.warning("kubernetes transport error %s on %s: %s", type(exc).__name__, self.endpoint, where)
        if isinstance(exc, NewConnectionError):
            return UpstreamUnavailable(f"cannot connect to the Kubernetes API ({where})")
        if isinstance(exc, ConnectTimeoutError):
            return UpstreamTimeout(
                f"connecting to the Kubernetes API timed out after {self.timeout.connect_timeout} s ({where})"
            )
        if isinstance(exc, ReadTimeoutError):
            return UpstreamTimeout(
                f"the Kubernetes API did not answer {where} within {self.timeout.read_timeout} s"
            )
        if isinstance(exc, SSLError):
            return ConfigurationError(
                "TLS verification of the Kubernetes API failed: check the cluster CA "
                f"({_short(_strip_urls(str(exc)), 160)})"
            )
        return UpstreamUnavailable(
            f"the connection to the Kubernetes API failed during {where} ({type(exc).__name__})"
        )

    def _http_error(
        self, method: str, path: str, params: Mapping[str, Any] | None, status: int, raw: bytes
    ) -> OpsAgentError:
        what = describe_path(method, path, params)
        kstatus: dict[str, Any] = {}
        try:
            parsed = json.loads(raw) if raw else {}
            if isinstance(parsed, dict):
                kstatus = parsed
        except ValueError:
            pass
        server_msg = _short(kstatus.get("message") or raw[:300].decode("utf-8", "replace").strip())
        reason = kstatus.get("reason") or ""
        details = {"status": status, "kube_reason": reason} if reason else {"status": status}
        scope = f"in namespace {what['namespace']}" if what["namespace"] else "at cluster scope"
        resource = what["resource"] or path
        if status == 403:
            # Prefer what the API server says it refused (verb, resource, namespace) over our path parsing.
            if m := _FORBIDDEN.search(str(kstatus.get("message") or "")):
                verb, resource, _group, ns = m.groups()
                what = {**what, "verb": verb, "namespace": ns or what["namespace"]}
                scope = f"in namespace {ns}" if ns else "at cluster scope"
            return PermissionMissing(
                f"the function's role lacks {what['verb']} on {resource} {scope}"
                + (f" (Kubernetes said: {server_msg})" if server_msg else ""),
                verb=what["verb"],
                resource=resource,
                namespace=what["namespace"],
                hint="grant it through the EKS access entry of the function's role (access policy or a "
                "Kubernetes RBAC Role bound to the entry's group)",
                **details,
            )
        if status == 401:
            return PermissionMissing(
                "the Kubernetes API rejected the function's credentials (401 Unauthorized): "
                "the role needs an EKS access entry on this cluster, or the token is invalid",
                verb=what["verb"],
                resource=resource,
                namespace=what["namespace"],
                **details,
            )
        if status == 404:
            label = f"{resource} {what['name']!r}" if what["name"] else resource
            return NotFound(
                f"{label} not found {scope}" + (f" ({server_msg})" if server_msg else ""),
                resource=resource,
                name=what["name"],
                namespace=what["namespace"],
            )
        if status == 409:
            return Conflict(
                server_msg or f"{method} {path} conflicted with the current state",
                resource=resource,
                name=what["name"],
                namespace=what["namespace"],
                **details,
            )
        if status in (400, 422):
            return InvalidInput(server_msg or f"the Kubernetes API rejected {method} {path}", **details)
        if status == 410:
            return UpstreamUnavailable(
                "the list snapshot expired while paging (410 Gone); retry the request", **details
            )
        if status == 429:
            return UpstreamUnavailable("the Kubernetes API is throttling requests (429)", **details)
        if status == 504:
            return UpstreamTimeout(f"the Kubernetes API timed out serving {method} {path}", **details)
        return UpstreamUnavailable(
            f"the Kubernetes API failed {method} {path} with HTTP {status}"
            + (f": {server_msg}" if server_msg else ""),
            **details,
        )
