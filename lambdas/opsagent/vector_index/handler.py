"""Create the knowledge base's vector index in an OpenSearch Serverless collection (SigV4, retries).

Lambda handler: ``opsagent.vector_index.handler.lambda_handler``. Input (``aws_lambda_invocation``)::

    {"endpoint": "https://<id>.<region>.aoss.amazonaws.com", "index_name": "opsagent-runbooks",
     "index": {...PUT body...}, "region": "us-east-1", "max_attempts": 12, "settle_seconds": 20}

* ``PUT /<index>`` signed with SigV4 for service ``aoss`` (``x-amz-content-sha256`` included, as
  OpenSearch Serverless requires).
* **403 is retried** with exponential backoff: right after ``terraform apply`` creates the data access
  policy it takes a while (up to minutes) to reach the collection - the most reported failure of this
  setup. 429, 5xx and connection errors are retried too; other 4xx fail at once.
* ``400 resource_already_exists_exception`` is success (idempotent), after checking the existing
  index's vector dimension matches (a different dimension fails with what to do).
* After creating, waits until ``GET /<index>`` answers 200, then ``settle_seconds`` so Bedrock's
  CreateKnowledgeBase that follows finds the index.
* A permanent failure raises :class:`IndexBootstrapError`; the Lambda reports it as a function error
  and ``terraform apply`` shows the message.
* ``{"tf": {"action": "delete"}}`` (``lifecycle_scope = "CRUD"``) is a no-op: the index goes away
  with its collection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opsagent.vector_index.mapping import VECTOR_FIELD, vector_dimension

logger = logging.getLogger("opsagent.vector_index")
logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))

RETRYABLE_STATUS = frozenset({403, 408, 429, 500, 502, 503, 504})
DEFAULT_MAX_ATTEMPTS = 12
BASE_DELAY, MAX_DELAY = 2.0, 30.0
SAFETY_MARGIN_MS = 15_000  # stop retrying this long before the Lambda times out
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
_ALLOWED_HOST_SUFFIXES = (".aoss.amazonaws.com", ".aoss.amazonaws.com.cn")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class IndexBootstrapError(Exception):
    """The index could not be created; the message says why and what to check."""


@dataclass
class Response:
    status: int
    body: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def excerpt(self, limit: int = 300) -> str:
        return self.body[:limit].replace("\n", " ")


class SignedClient:
    """Minimal SigV4 HTTP client for one OpenSearch Serverless endpoint (botocore signer + urllib3)."""

    def __init__(self, endpoint: str, region: str, *, credentials: Any = None, timeout: float = 30.0) -> None:
        import urllib3
        from botocore.session import get_session

        self.endpoint = validate_endpoint(endpoint)
        self.region = region
        creds = credentials or get_session().get_credentials()
        if creds is None:
            raise IndexBootstrapError("no AWS credentials available to sign the request")
        self._credentials = creds
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5.0, read=timeout), retries=False)

    def request(self, method: str, path: str, body: bytes = b"") -> Response:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.endpoint + path
        headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
        if body:
            headers["Content-Type"] = "application/json"
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        creds = self._credentials
        frozen = creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds
        SigV4Auth(frozen, "aoss", self.region).add_auth(request)
        prepared = request.prepare()
        answer = self._http.request(method, prepared.url, body=body or None, headers=dict(prepared.headers))
        return Response(answer.status, answer.data.decode("utf-8", errors="replace"))


def validate_endpoint(endpoint: str) -> str:
    """``https://<id>.<region>.aoss.amazonaws.com`` (or plain http on loopback, for tests)."""
    parts = urlsplit(endpoint.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host.endswith(_ALLOWED_HOST_SUFFIXES):
        return f"https://{parts.netloc}"
    if parts.scheme in ("http", "https") and host in _LOOPBACK:
        return f"{parts.scheme}://{parts.netloc}"
    raise IndexBootstrapError(
        f"endpoint {endpoint[:100]!r} is not an OpenSearch Serverless collection endpoint "
        "(https://<id>.<region>.aoss.amazonaws.com)"
    )


def _error_type(response: Response) -> str:
    doc = response.json()
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return str(doc["error"].get("type") or "")
    return ""


def _backoff(attempt: int) -> float:
    delay = min(MAX_DELAY, BASE_DELAY * (2 ** (attempt - 1)))
    return delay * random.uniform(0.8, 1.0)  # jitter (not security-relevant)


def create_index(
    client: SignedClient,
    index_name: str,
    body: dict[str, Any],
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    settle_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    remaining_ms: Callable[[], int] | None = None,
    vector_field: str = VECTOR_FIELD,
) -> dict[str, Any]:
    """Create ``index_name`` (idempotent). Returns ``{"status": "created"|"exists", ...}``."""
    if not _INDEX_NAME.match(index_name):
        raise IndexBootstrapError(
            f"invalid index name {index_name[:80]!r} (lowercase letters, digits, . _ -)"
        )
    payload = json.dumps(body).encode()
    started = time.monotonic()
    last = "no attempt made"
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.request("PUT", f"/{index_name}", payload)
        except Exception as exc:  # connection refused/reset, DNS, timeout: retry
            response, last = None, f"{type(exc).__name__}: {str(exc)[:200]}"
        if response is not None:
            if response.status in (200, 201):
                logger.info("created index %s (attempt %d)", index_name, attempt)
                _wait_visible(client, index_name, sleep=sleep)
                if settle_seconds > 0:
                    sleep(settle_seconds)
                return {"status": "created", "index": index_name, "attempts": attempt}
            if response.status == 400 and _error_type(response) == "resource_already_exists_exception":
                _check_existing(client, index_name, body, vector_field)
                logger.info("index %s already exists", index_name)
                return {"status": "exists", "index": index_name, "attempts": attempt}
            last = f"HTTP {response.status}: {response.excerpt()}"
            if response.status not in RETRYABLE_STATUS:
                raise IndexBootstrapError(f"creating index {index_name!r} failed permanently: {last}")
        if attempt == max_attempts:
            break
        delay = _backoff(attempt)
        if remaining_ms is not None and remaining_ms() - delay * 1000 < SAFETY_MARGIN_MS:
            logger.warning("stopping retries: the Lambda is about to time out")
            break
        logger.warning(
            "attempt %d/%d for index %s: %s; retrying in %.1fs",
            attempt,
            max_attempts,
            index_name,
            last,
            delay,
        )
        sleep(delay)
    elapsed = time.monotonic() - started
    hint = (
        " A 403 that persists means the OpenSearch Serverless data access policy does not grant this "
        "function's role aoss:CreateIndex on index/<collection>/*, or the role lacks aoss:APIAccessAll, "
        "or the network policy does not allow this caller (VPC endpoint / public access)."
        if last.startswith("HTTP 403")
        else ""
    )
    raise IndexBootstrapError(
        f"could not create index {index_name!r} at {client.endpoint} after {attempt} attempt(s) "
        f"in {elapsed:.0f}s; last: {last}.{hint}"
    )


def _wait_visible(
    client: SignedClient, index_name: str, *, sleep: Callable[[float], None], tries: int = 10
) -> None:
    for attempt in range(1, tries + 1):
        try:
            if client.request("GET", f"/{index_name}").status == 200:
                return
        except Exception as exc:
            logger.warning("GET /%s failed: %s", index_name, exc)
        sleep(min(MAX_DELAY, BASE_DELAY * attempt))
    logger.warning("index %s created but not visible yet after %d checks", index_name, tries)


def _check_existing(client: SignedClient, index_name: str, body: dict[str, Any], vector_field: str) -> None:
    """An existing index with another vector dimension would make every ingestion fail later: say so now."""
    wanted = vector_dimension(body, vector_field)
    try:
        response = client.request("GET", f"/{index_name}/_mapping")
    except Exception as exc:
        logger.warning("could not read the mapping of %s: %s", index_name, exc)
        return
    doc = response.json() if response.status == 200 else None
    if not isinstance(doc, dict):
        logger.warning("could not read the mapping of %s: HTTP %s", index_name, response.status)
        return
    existing = vector_dimension(next(iter(doc.values()), {}) if doc else {}, vector_field)
    if wanted is not None and existing != wanted:
        raise IndexBootstrapError(
            f"index {index_name!r} already exists with {vector_field} dimension {existing}, but {wanted} is "
            "required; delete the index (it is rebuilt by the next ingestion) or use another index name"
        )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    tf = event.get("tf") if isinstance(event.get("tf"), dict) else {}
    if tf.get("action") == "delete":
        return {"status": "skipped", "reason": "delete: the index is removed with its collection"}
    try:
        endpoint, index_name, body = event["endpoint"], event["index_name"], event["index"]
    except KeyError as exc:
        raise IndexBootstrapError(f"input is missing {exc.args[0]!r} (endpoint, index_name, index)") from None
    if not isinstance(body, dict) or not isinstance(index_name, str) or not isinstance(endpoint, str):
        raise IndexBootstrapError("input: endpoint and index_name must be strings, index an object")
    region = str(event.get("region") or os.environ.get("AWS_REGION") or "")
    if not region:
        raise IndexBootstrapError("no region: pass 'region' or set AWS_REGION")
    client = SignedClient(endpoint, region)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    result = create_index(
        client,
        index_name,
        body,
        max_attempts=int(event.get("max_attempts") or DEFAULT_MAX_ATTEMPTS),
        settle_seconds=float(event.get("settle_seconds") or 0),
        remaining_ms=remaining if callable(remaining) else None,
    )
    return {**result, "endpoint": client.endpoint}
