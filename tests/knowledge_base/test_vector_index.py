"""The vector-index bootstrap Lambda against a local HTTP server standing in for OpenSearch Serverless:
the request shape, a SigV4 signature the server verifies, retries on 403, idempotency, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug import Request, Response

from opsagent.vector_index.handler import IndexBootstrapError, SignedClient, create_index, lambda_handler
from opsagent.vector_index.mapping import (
    INDEX_NAME,
    METADATA_FIELD,
    TEXT_FIELD,
    VECTOR_FIELD,
    definition_hash,
    index_body,
)

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
EXISTS = {
    "error": {"type": "resource_already_exists_exception", "reason": "index already exists"},
    "status": 400,
}


def verify_sigv4(request: Request, creds: Credentials = CREDS) -> dict[str, str]:
    """Recompute the SigV4 signature of a received request; return the Authorization fields."""
    match = AUTH.match(request.headers.get("Authorization", ""))
    assert match, request.headers.get("Authorization")
    fields = match.groupdict()
    signed = fields["signed"].split(";")
    rebuilt = AWSRequest(
        method=request.method,
        url=request.url,
        data=request.get_data(),
        headers={h: request.headers[h] for h in signed},
    )
    rebuilt.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(creds, fields["service"], fields["region"])
    expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
    assert hmac.compare_digest(expected, fields["sig"]), "signature does not verify"
    return fields


class Recorder:
    """A handler answering from a script of (status, body) and recording each request."""

    def __init__(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": request.get_data(),
                "auth": verify_sigv4(request),
            }
        )
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def client(httpserver):
    return SignedClient(httpserver.url_for("/").rstrip("/"), "us-east-1", credentials=CREDS)


@pytest.fixture
def sleeps():
    return []


def run(client, sleeps, **kwargs):
    return create_index(client, INDEX_NAME, index_body(), sleep=sleeps.append, **kwargs)


def test_put_index_with_the_mapping_signed_for_aoss(httpserver, client, sleeps):
    put = Recorder((200, {"acknowledged": True, "index": INDEX_NAME}))
    get = Recorder((200, {INDEX_NAME: {}}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    httpserver.expect_request(f"/{INDEX_NAME}", method="GET").respond_with_handler(get)

    assert run(client, sleeps) == {"status": "created", "index": INDEX_NAME, "attempts": 1}
    [req] = put.requests
    assert req["method"] == "PUT" and req["path"] == f"/{INDEX_NAME}"
    body = json.loads(req["body"])
    assert body["settings"]["index"]["knn"] is True
    vector = body["mappings"]["properties"][VECTOR_FIELD]
    assert vector["type"] == "knn_vector" and vector["dimension"] == 1024
    assert vector["method"]["name"] == "hnsw" and vector["method"]["engine"] == "faiss"
    assert body["mappings"]["properties"][TEXT_FIELD] == {"type": "text"}
    assert body["mappings"]["properties"][METADATA_FIELD] == {"type": "text", "index": False}
    # signed: SigV4, credential scope service aoss, payload hash header present and correct
    assert req["auth"]["service"] == "aoss" and req["auth"]["region"] == "us-east-1"
    assert req["auth"]["key"] == "AKIDEXAMPLE"
    assert req["headers"]["X-Amz-Content-Sha256"] == hashlib.sha256(req["body"]).hexdigest()
    assert {"host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"} <= set(
        req["auth"]["signed"].split(";")
    )
    assert req["headers"]["Content-Type"] == "application/json"
    assert get.requests[0]["method"] == "GET"  # waited until the index is visible
    assert sleeps == []


def test_tampered_signature_is_detected_by_the_verifier(httpserver, client):
    """Guard the guard: the server-side verifier rejects a request whose body changed after signing."""
    seen = []

    def handler(request: Request) -> Response:
        tampered = AWSRequest(method="PUT", url=request.url, data=b'{"x":1}', headers=dict(request.headers))
        tampered.context["timestamp"] = request.headers["X-Amz-Date"]
        signer = SigV4Auth(CREDS, "aoss", "us-east-1")
        sig = signer.signature(signer.string_to_sign(tampered, signer.canonical_request(tampered)), tampered)
        seen.append(sig in request.headers["Authorization"])
        return Response("{}", status=200)

    httpserver.expect_request(f"/{INDEX_NAME}").respond_with_handler(handler)
    client.request("PUT", f"/{INDEX_NAME}", b'{"settings":{}}')
    assert seen == [False]


def test_retries_403_while_the_access_policy_propagates(httpserver, client, sleeps):
    put = Recorder((403, {"status": 403, "message": "Forbidden"}), (403, {}), (200, {"acknowledged": True}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    httpserver.expect_request(f"/{INDEX_NAME}", method="GET").respond_with_json({})

    result = run(client, sleeps, settle_seconds=7)
    assert result["status"] == "created" and result["attempts"] == 3
    assert len(put.requests) == 3
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] and sleeps[-1] == 7  # backoff grows, then settle
    assert all(r["auth"]["service"] == "aoss" for r in put.requests)  # every attempt signed and verified


def test_retries_5xx_and_throttling(httpserver, client, sleeps):
    put = Recorder((503, {}), (429, {}), (200, {}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    httpserver.expect_request(f"/{INDEX_NAME}", method="GET").respond_with_json({})
    assert run(client, sleeps)["attempts"] == 3


def test_already_exists_is_success_when_the_dimension_matches(httpserver, client, sleeps):
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_json(EXISTS, status=400)
    mapping = {INDEX_NAME: {"mappings": index_body()["mappings"]}}
    httpserver.expect_request(f"/{INDEX_NAME}/_mapping", method="GET").respond_with_json(mapping)
    assert run(client, sleeps) == {"status": "exists", "index": INDEX_NAME, "attempts": 1}
    assert sleeps == []


def test_already_exists_with_another_dimension_fails_with_the_fix(httpserver, client, sleeps):
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_json(EXISTS, status=400)
    mapping = {INDEX_NAME: {"mappings": index_body(512)["mappings"]}}
    httpserver.expect_request(f"/{INDEX_NAME}/_mapping", method="GET").respond_with_json(mapping)
    with pytest.raises(IndexBootstrapError, match="dimension 512, but 1024 is required; delete the index"):
        run(client, sleeps)


def test_other_client_errors_fail_at_once(httpserver, client, sleeps):
    error = {
        "error": {"type": "mapper_parsing_exception", "reason": "unknown parameter [knn]"},
        "status": 400,
    }
    put = Recorder((400, error))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    with pytest.raises(IndexBootstrapError, match="failed permanently: HTTP 400: .*mapper_parsing_exception"):
        run(client, sleeps)
    assert len(put.requests) == 1 and sleeps == []


def test_permanent_403_fails_after_the_retry_budget_with_a_hint(httpserver, client, sleeps):
    put = Recorder((403, {"message": "User does not have permissions for the requested resource"}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    with pytest.raises(IndexBootstrapError) as info:
        run(client, sleeps, max_attempts=4)
    message = str(info.value)
    assert "after 4 attempt(s)" in message and "HTTP 403" in message
    assert "data access policy" in message and "aoss:CreateIndex" in message
    assert len(put.requests) == 4 and len(sleeps) == 3


def test_stops_retrying_before_the_lambda_times_out(httpserver, client, sleeps):
    put = Recorder((403, {}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    with pytest.raises(IndexBootstrapError, match="after 1 attempt"):
        run(client, sleeps, remaining_ms=lambda: 16_000)
    assert len(put.requests) == 1


def test_connection_errors_are_retried_then_reported(sleeps):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = SignedClient(f"http://127.0.0.1:{port}", "us-east-1", credentials=CREDS)
    with pytest.raises(IndexBootstrapError, match=r"after 3 attempt\(s\).*last: .*(Error|refused)"):
        run(dead, sleeps, max_attempts=3)
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://abc.us-east-1.aoss.amazonaws.com",
        "https://evil.example.com",
        "https://aoss.amazonaws.com.evil.io",
        "ftp://localhost",
    ],
)
def test_only_collection_endpoints_get_signed_requests(endpoint):
    with pytest.raises(IndexBootstrapError, match="not an OpenSearch Serverless collection endpoint"):
        SignedClient(endpoint, "us-east-1", credentials=CREDS)


def test_collection_endpoint_is_accepted():
    client = SignedClient("https://abc123.us-east-1.aoss.amazonaws.com/", "us-east-1", credentials=CREDS)
    assert client.endpoint == "https://abc123.us-east-1.aoss.amazonaws.com"


@pytest.mark.parametrize("name", ["Upper", "_hidden", "a b", "a/b", "", "x" * 300])
def test_bad_index_names_are_refused(client, sleeps, name):
    with pytest.raises(IndexBootstrapError, match="invalid index name"):
        create_index(client, name, index_body(), sleep=sleeps.append)


# --- the Lambda entry point -------------------------------------------------------------------------


def event(httpserver, **extra):
    return {"endpoint": httpserver.url_for("/"), "index_name": INDEX_NAME, "index": index_body(), **extra}


def test_lambda_handler_creates_the_index(httpserver, lambda_context, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CREDS.token)
    put = Recorder((200, {}))
    httpserver.expect_request(f"/{INDEX_NAME}", method="PUT").respond_with_handler(put)
    httpserver.expect_request(f"/{INDEX_NAME}", method="GET").respond_with_json({})
    out = lambda_handler(event(httpserver, region="eu-west-1"), lambda_context)
    assert out["status"] == "created" and out["endpoint"] == httpserver.url_for("/").rstrip("/")
    assert put.requests[0]["auth"]["region"] == "eu-west-1"


def test_lambda_handler_delete_is_a_no_op(lambda_context):
    out = lambda_handler({"tf": {"action": "delete", "prev_input": {}}}, lambda_context)
    assert out["status"] == "skipped"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "input is missing 'endpoint'"),
        ({"endpoint": "https://x.us-east-1.aoss.amazonaws.com", "index_name": INDEX_NAME}, "missing 'index'"),
        ({"endpoint": 1, "index_name": INDEX_NAME, "index": {}}, "must be strings"),
        (
            {"endpoint": "https://evil.example.com", "index_name": INDEX_NAME, "index": {}},
            "not an OpenSearch",
        ),
    ],
)
def test_lambda_handler_rejects_bad_input(lambda_context, payload, message):
    with pytest.raises(IndexBootstrapError, match=message):
        lambda_handler(payload, lambda_context)


def test_mapping_and_hash():
    with pytest.raises(ValueError, match="256, 512 or 1024"):
        index_body(1536)
    assert definition_hash(INDEX_NAME, index_body()) == definition_hash(
        INDEX_NAME, json.loads(json.dumps(index_body()))
    )
    assert definition_hash(INDEX_NAME, index_body()) != definition_hash(INDEX_NAME, index_body(512))
    assert definition_hash(INDEX_NAME, index_body()) != definition_hash("other", index_body())
