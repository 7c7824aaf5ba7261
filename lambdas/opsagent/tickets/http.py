"""A small JSON-over-HTTPS client for the ticket vendors (urllib3, which botocore already ships).

Timeouts: connect and read timeouts on every request, an overall budget per request (retries and
their waits included), and a deadline per *operation* (:meth:`HttpClient.operation`: the whole
createTicket / searchTickets / addTicketComment call, 20 s by default) so a slow vendor cannot run
the tickets Lambda into its timeout. A POST/PATCH is only sent when the deadline leaves time for its
answer: one cut off by the Lambda timeout would leave a ticket nobody knows about.

Retries, and why POST is special. A ticket write is *not* idempotent: POSTing an issue twice makes
two issues, POSTing a comment twice makes two comments. So:

* GET (search, read) is retried on anything transient: connection errors, read timeouts, a
  connection dropped mid-response, 429, 500, 502, 503, 504.
* POST/PATCH are retried only when the vendor certainly did **not** act: the connection was never
  established (connect timeout, refused, DNS), 429 (rate limited: rejected before processing), and
  401 once after re-reading a rotated secret. A read timeout, a connection dropped after the request
  was sent, or any 5xx (a 503 may come from a gateway that already forwarded the request) leave
  the outcome unknown: we do not resend blindly but raise :class:`AmbiguousWrite`. The ticket
  service then reconciles: with a fingerprint it searches for the ticket it may have created and
  returns it (no duplicate); without one it tells the caller to search before retrying.
* Waits: ``Retry-After`` (seconds or HTTP date) and GitHub's ``x-ratelimit-reset`` are honoured
  when they fit under ``max_retry_after`` (and the call budget); a longer wait is not slept through
  but returned as a retryable 503 body with ``retry_after_seconds``. Otherwise exponential backoff
  with full jitter (0.5 s, 1 s, 2 s ... capped at 8 s).

Errors map onto opsagent.errors: 400/422 -> InvalidInput, 401/403 -> PermissionMissing, 404 ->
NotFound, 409 -> Conflict, 429/5xx/connection -> UpstreamUnavailable, timeouts -> UpstreamTimeout.
Messages carry the vendor's own error text (clipped) after :func:`redact` removed every known
credential; request headers are never logged or echoed. Redirects are not followed (a redirect
could carry the Authorization header to another host): they are reported as a base_url problem.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

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
from opsagent.tickets.secrets import redact

log = logging.getLogger("opsagent.tickets.http")

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
STALE_AFTER_SECONDS = 4.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_ANY_METHOD = frozenset({429})
# A 503 can come from a gateway that already forwarded the request: for a write it is an unknown
# outcome like the other 5xx (issue 11 item 4), never a reason to resend.
RETRY_IDEMPOTENT_ONLY = frozenset({500, 502, 503, 504})
VENDOR_NAMES = {"jira": "Jira", "servicenow": "ServiceNow", "github": "GitHub"}
_sleep: Callable[[float], None] = time.sleep  # tests replace it
_clock: Callable[[], float] = time.monotonic
# Absolute _clock() time by which the current operation must be done (None: no operation deadline).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("tickets_deadline", default=None)


class AmbiguousWrite(UpstreamTimeout):
    """A non-idempotent request was sent but its outcome is unknown (read timeout, connection
    dropped, 500/502/504): it may or may not have been applied."""

    code = "upstream_outcome_unknown"
    retryable = False


@dataclass
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    data: bytes

    def json(self) -> Any:
        if not self.data:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            raise UpstreamUnavailable(
                f"the ticket backend answered HTTP {self.status} with a body that is not JSON",
                dependency="tickets",
            ) from None


# auth(force_refresh) -> (headers, came_from_cache)
AuthProvider = Callable[[bool], tuple[dict[str, str], bool]]


@dataclass
class HttpClient:
    base_url: str
    vendor: str
    auth: AuthProvider
    connect_timeout: float = 3.0
    read_timeout: float = 8.0
    max_attempts: int = 3
    max_retry_after: float = 10.0
    budget_seconds: float = 25.0
    operation_seconds: float = 20.0
    default_headers: dict[str, str] = field(default_factory=dict)
    # GitHub answers primary/secondary rate limits with 403 + x-ratelimit-remaining: 0 / retry-after.
    rate_limit_on_403: bool = False
    _pool: Any = field(default=None, repr=False)
    _last_used: float = field(default=0.0, repr=False)

    @property
    def display(self) -> str:
        return VENDOR_NAMES.get(self.vendor, self.vendor)

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        """Every request inside shares one deadline, ``operation_seconds`` from now (an enclosing
        operation's deadline wins when it is earlier)."""
        current = _deadline.get()
        mine = _clock() + self.operation_seconds
        token = _deadline.set(mine if current is None else min(current, mine))
        try:
            yield
        finally:
            _deadline.reset(token)

    @staticmethod
    def _time_left() -> float:
        deadline = _deadline.get()
        return float("inf") if deadline is None else deadline - _clock()

    @property
    def pool(self) -> Any:
        if self._pool is None:
            import urllib3

            self._pool = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False, block=False)
        return self._pool

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        what: str = "",
    ) -> HttpResponse:
        """Send one logical request (with the retries described in the module docstring) and return
        the 2xx response, or raise the mapped OpsAgentError."""
        import urllib3
        from urllib3.exceptions import (
            ConnectTimeoutError,
            HTTPError,
            NewConnectionError,
            ProtocolError,
            ReadTimeoutError,
            SSLError,
        )

        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        what = what or f"{method} {path}"
        url = self.base_url + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        body = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        started = _clock()
        refreshed = False
        force_refresh = False
        attempt = 0
        while True:
            attempt += 1
            auth_headers, from_cache = self.auth(force_refresh)
            force_refresh = False
            headers = {
                "Accept": "application/json",
                "User-Agent": "opsagent-tickets",
                **self.default_headers,
                **auth_headers,
            }
            if body is not None:
                headers["Content-Type"] = "application/json"
            left = self._time_left()
            if not idempotent and left < self.connect_timeout + self.read_timeout:
                raise UpstreamTimeout(
                    f"not enough time left in this call ({max(0.0, left):.0f}s) to send {what} to "
                    f"{self.display} and wait for its answer; nothing was sent: try again",
                    dependency=self.vendor,
                )
            if left <= 0:
                raise UpstreamTimeout(f"{self.display} took too long for {what}", dependency=self.vendor)
            read_timeout = self.read_timeout if not idempotent else max(0.1, min(self.read_timeout, left))
            if not idempotent and self._pool is not None and _clock() - self._last_used > STALE_AFTER_SECONDS:
                # A kept-alive connection idle across a frozen Lambda is often already closed by the
                # server; a POST on it fails in a way we could not tell from "sent and lost". Start fresh.
                self._pool.clear()
            try:
                resp = self.pool.request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    timeout=urllib3.Timeout(connect=self.connect_timeout, read=read_timeout),
                    retries=False,
                    redirect=False,
                    preload_content=False,
                )
                data = resp.read(MAX_RESPONSE_BYTES + 1)
                resp.release_conn()
                self._last_used = _clock()
            except SSLError as exc:
                raise UpstreamUnavailable(
                    f"TLS to {self.display} failed ({type(exc).__name__}): check base_url and its "
                    "certificate",
                    dependency=self.vendor,
                ) from None
            except (ConnectTimeoutError, NewConnectionError) as exc:
                # Never reached the server: safe to retry whatever the method.
                wait = self._backoff(attempt)
                if self._can_retry(attempt, started, wait):
                    self._wait(wait, what, f"connect failed ({type(exc).__name__})")
                    continue
                raise UpstreamUnavailable(
                    f"cannot connect to {self.display} ({type(exc).__name__}) for {what}",
                    dependency=self.vendor,
                ) from None
            except (ReadTimeoutError, ProtocolError, HTTPError) as exc:
                timed_out = isinstance(exc, ReadTimeoutError)
                wait = self._backoff(attempt)
                if idempotent and self._can_retry(attempt, started, wait):
                    self._wait(wait, what, type(exc).__name__)
                    continue
                if not idempotent:
                    raise AmbiguousWrite(
                        f"{self.display} did not answer {what} in time ({type(exc).__name__}); the write may "
                        "or may not have been applied",
                        dependency=self.vendor,
                    ) from None
                cls = UpstreamTimeout if timed_out else UpstreamUnavailable
                raise cls(
                    f"{self.display} failed for {what} ({type(exc).__name__})", dependency=self.vendor
                ) from None

            if len(data) > MAX_RESPONSE_BYTES:
                raise UpstreamUnavailable(
                    f"{self.display} answered {what} with more than {MAX_RESPONSE_BYTES} bytes",
                    dependency=self.vendor,
                )
            status = resp.status
            rheaders = {k.lower(): v for k, v in resp.headers.items()}
            if 200 <= status < 300:
                return HttpResponse(status, rheaders, data)

            if status == 401 and from_cache and not refreshed:
                # Maybe the secret was rotated since we cached it: re-read once. A 401 means the
                # request was rejected before processing, so resending a POST is safe.
                refreshed = force_refresh = True
                log.info(
                    "ticket backend rejected cached credentials; re-reading the secret",
                    extra={"vendor": self.vendor},
                )
                continue

            rate_limited = status == 429 or (
                status == 403
                and self.rate_limit_on_403
                and (rheaders.get("x-ratelimit-remaining") == "0" or "retry-after" in rheaders)
            )
            retryable = (
                rate_limited or status in RETRY_ANY_METHOD or (idempotent and status in RETRY_IDEMPOTENT_ONLY)
            )
            if retryable:
                hinted = self._retry_after(rheaders)
                wait = hinted if hinted is not None else self._backoff(attempt)
                if hinted is not None and hinted > self.max_retry_after:
                    raise UpstreamUnavailable(
                        f"{self.display} is rate limiting or unavailable (HTTP {status}) and asks to wait "
                        f"{hinted:.0f}s, longer than we wait inside one call: retry later",
                        dependency=self.vendor,
                        http_status=status,
                        retry_after_seconds=int(hinted + 0.999),
                    )
                if self._can_retry(attempt, started, wait):
                    self._wait(wait, what, f"HTTP {status}")
                    continue
                raise UpstreamUnavailable(
                    f"{self.display} kept answering HTTP {status} for {what} after {attempt} attempt(s)"
                    + (f": {self._detail(data)}" if self._detail(data) else ""),
                    dependency=self.vendor,
                    http_status=status,
                    **({"retry_after_seconds": int(wait + 0.999)} if rate_limited else {}),
                )
            if not idempotent and status in RETRY_IDEMPOTENT_ONLY:
                raise AmbiguousWrite(
                    f"{self.display} answered HTTP {status} to {what}; the write may or may not have been "
                    "applied",
                    dependency=self.vendor,
                    http_status=status,
                )
            raise self._error(status, data, what)

    # --- helpers --------------------------------------------------------------------------------

    def _can_retry(self, attempt: int, started: float, wait: float) -> bool:
        return (
            attempt < self.max_attempts
            and (_clock() - started) + wait < self.budget_seconds
            and wait < self._time_left()
        )

    @staticmethod
    def _backoff(attempt: int) -> float:
        return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def _wait(self, seconds: float, what: str, why: str) -> None:
        log.warning(
            "retrying ticket backend request",
            extra={"vendor": self.vendor, "request": what, "reason": why, "wait_seconds": round(seconds, 2)},
        )
        if seconds > 0:
            _sleep(seconds)

    @staticmethod
    def _retry_after(headers: Mapping[str, str]) -> float | None:
        value = headers.get("retry-after")
        if value:
            value = value.strip()
            if value.isdigit():
                return float(value)
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                return None
        if headers.get("x-ratelimit-remaining") == "0" and (headers.get("x-ratelimit-reset") or "").isdigit():
            return max(0.0, float(headers["x-ratelimit-reset"]) - time.time())
        return None

    @staticmethod
    def _detail(data: bytes) -> str:
        """The vendor's own error text (Jira errorMessages/errors, ServiceNow error.message/detail,
        GitHub message), redacted and clipped."""
        text = ""
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            parts: list[str] = []
            for msg in doc.get("errorMessages") or []:
                parts.append(str(msg))
            errors = doc.get("errors")
            if isinstance(errors, dict):
                parts.extend(f"{k}: {v}" for k, v in list(errors.items())[:5])
            err = doc.get("error")
            if isinstance(err, dict):
                parts.extend(str(err[k]) for k in ("message", "detail") if err.get(k))
            elif isinstance(err, str):
                parts.append(err)
            if isinstance(doc.get("message"), str):
                parts.append(doc["message"])
            text = "; ".join(parts)
        elif data:
            text = data[:400].decode("utf-8", errors="replace")
        text = redact(" ".join(text.split()))
        return text[:300]

    def _error(self, status: int, data: bytes, what: str) -> OpsAgentError:
        detail = self._detail(data)
        suffix = f": {detail}" if detail else ""
        common = {"dependency": self.vendor, "http_status": status}
        if status in (400, 422):
            return InvalidInput(f"{self.display} rejected {what} (HTTP {status}){suffix}", **common)
        if status == 401:
            return PermissionMissing(
                f"{self.display} rejected the credentials (HTTP 401) for {what}: check the secret named by "
                f"secret_arn in OPSAGENT_TICKETS{suffix}",
                **common,
            )
        if status == 403:
            return PermissionMissing(
                f"{self.display} denied {what} (HTTP 403): the account in the secret lacks "
                f"permission{suffix}",
                **common,
            )
        if status == 404:
            return NotFound(f"{self.display}: not found for {what}{suffix}", **common)
        if status == 409:
            return Conflict(f"{self.display}: conflict for {what}{suffix}", **common)
        if 300 <= status < 400:
            return ConfigurationError(
                f"{self.display} redirected {what} (HTTP {status}); redirects are not followed: check "
                "base_url",
                **common,
            )
        if status == 410:
            return ConfigurationError(f"{self.display}: {what} is gone (HTTP 410){suffix}", **common)
        return UpstreamUnavailable(f"{self.display} failed {what} (HTTP {status}){suffix}", **common)
