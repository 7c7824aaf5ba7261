"""The vendor HTTP client: which failures are retried for which methods, Retry-After handling,
no redirects, bounded responses, 401 -> re-read the secret once, connection failures."""

from __future__ import annotations

import json
import socket
import types

import pytest
from werkzeug import Response

from opsagent.errors import ConfigurationError, InvalidInput, NotFound, UpstreamUnavailable
from opsagent.tickets import service
from opsagent.tickets.http import AmbiguousWrite, HttpClient

from .conftest import TOKEN


def client_for(base_url: str, **kw) -> HttpClient:
    return HttpClient(
        base_url=base_url,
        vendor="jira",
        auth=lambda force: ({"Authorization": "Bearer t0k3n-x"}, False),
        **kw,
    )


def test_post_429_with_retry_after_is_retried_then_succeeds(httpserver, base_url, sleeps):
    httpserver.expect_ordered_request("/issue", method="POST").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "3"})
    )
    httpserver.expect_ordered_request("/issue", method="POST").respond_with_json({"key": "OPS-1"}, status=201)
    resp = client_for(base_url).request("POST", "/issue", json_body={"a": 1})
    assert resp.status == 201 and resp.json() == {"key": "OPS-1"}
    assert sleeps == [3.0]
    assert [r.get_json() for r, _ in httpserver.log] == [{"a": 1}, {"a": 1}]


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_post_5xx_is_never_resent(httpserver, base_url, sleeps, code):
    """A 503 from a gateway (or a load balancer) can come after it forwarded the POST: resending it
    blindly filed duplicates (issue 11 item 4). Every 5xx on a write is an unknown outcome; the ticket
    service searches by fingerprint before anything is sent again."""
    httpserver.expect_request("/issue").respond_with_response(Response("unavailable", status=code))
    with pytest.raises(AmbiguousWrite) as err:
        client_for(base_url).request("POST", "/issue", json_body={})
    assert err.value.to_body()["http_status"] == code and len(httpserver.log) == 1 and sleeps == []


def test_get_retries_5xx_up_to_max_attempts(httpserver, base_url, sleeps):
    httpserver.expect_request("/search").respond_with_response(Response("oops", status=500))
    with pytest.raises(UpstreamUnavailable) as err:
        client_for(base_url, max_attempts=3).request("GET", "/search")
    assert len(httpserver.log) == 3 and len(sleeps) == 2
    assert "after 3 attempt(s)" in err.value.message and err.value.retryable


def test_get_recovers_after_500(httpserver, base_url):
    httpserver.expect_ordered_request("/search").respond_with_response(Response("", status=500))
    httpserver.expect_ordered_request("/search").respond_with_json({"ok": True})
    assert client_for(base_url).request("GET", "/search", params={"q": "a b"}).json() == {"ok": True}
    assert httpserver.log[1][0].args["q"] == "a b"


def test_status_mapping(httpserver, base_url):
    httpserver.expect_ordered_request("/x").respond_with_json({"errors": {"summary": "required"}}, status=400)
    httpserver.expect_ordered_request("/x").respond_with_json({"message": "Not Found"}, status=404)
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response("", status=302, headers={"Location": "https://evil.example/steal"})
    )
    c = client_for(base_url)
    with pytest.raises(InvalidInput, match="summary: required"):
        c.request("GET", "/x")
    with pytest.raises(NotFound):
        c.request("GET", "/x")
    with pytest.raises(ConfigurationError, match="redirects are not followed"):
        c.request("GET", "/x")
    assert len(httpserver.log) == 3  # the redirect was not followed


def test_connection_refused_is_retried_then_unavailable(sleeps):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UpstreamUnavailable, match="cannot connect"):
        client_for(f"http://127.0.0.1:{port}", max_attempts=2).request("POST", "/issue", json_body={})
    assert len(sleeps) == 1  # never reached the server: even a POST may be retried


def test_oversized_response_is_refused(httpserver, base_url, monkeypatch):
    from opsagent.tickets import http

    monkeypatch.setattr(http, "MAX_RESPONSE_BYTES", 1000)
    httpserver.expect_request("/big").respond_with_data("x" * 5000)
    with pytest.raises(UpstreamUnavailable, match="more than 1000 bytes"):
        client_for(base_url).request("GET", "/big")


def test_401_rereads_a_rotated_secret_once(aws, make_secret, base_url, httpserver, ctx, monkeypatch):
    from opsagent.aws import client

    arn = make_secret("opsagent/gh-rotating", {"token": "old-token-1111"})
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps({"backend": "github", "repo": "acme/incidents", "base_url": base_url, "secret_arn": arn}),
    )

    def only_new_token(request):
        if request.headers.get("Authorization") == "Bearer new-token-2222":
            return Response("[]", status=200, content_type="application/json")
        return Response(
            json.dumps({"message": "Bad credentials"}), status=401, content_type="application/json"
        )

    httpserver.expect_request("/repos/acme/incidents/issues").respond_with_handler(only_new_token)
    with pytest.raises(Exception) as err:  # first use: fresh secret, 401 is final
        service.search(ctx, service="checkout", audit=None)
    assert err.value.to_body()["error"] == "permission_missing"
    client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"token": "new-token-2222"})
    )
    found = service.search(ctx, service="checkout", audit=None)  # cached old token -> 401 -> re-read -> 200
    assert found.count == 0
    auths = [r.headers["Authorization"] for r, _ in httpserver.log]
    assert auths == ["Bearer old-token-1111", "Bearer old-token-1111", "Bearer new-token-2222"]


def test_error_bodies_never_carry_the_token(
    aws, make_secret, base_url, httpserver, ctx, monkeypatch, caplog, capsys
):
    import logging

    arn = make_secret("opsagent/gh", {"token": TOKEN})
    caplog.clear()  # (creating the secret above logged it: that is the test's setup, not our code)
    caplog.set_level(logging.DEBUG)  # what AWS_LAMBDA_LOG_LEVEL=DEBUG would do
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps({"backend": "github", "repo": "acme/incidents", "base_url": base_url, "secret_arn": arn}),
    )
    httpserver.expect_request("/repos/acme/incidents/issues").respond_with_data(
        f"<html>proxy error: Authorization: Bearer {TOKEN} rejected</html>", status=401
    )
    with pytest.raises(Exception) as err:
        service.search(ctx, service="checkout", audit=None)
    body = json.dumps(err.value.to_body())
    assert "proxy error" in body and "***" in body
    assert TOKEN not in body
    assert TOKEN not in caplog.text
    out = capsys.readouterr()
    assert TOKEN not in out.out and TOKEN not in out.err


def test_retry_after_beyond_our_wait_but_inside_the_budget_is_not_slept_through(httpserver, base_url, sleeps):
    # 15 s fits the 25 s call budget but not max_retry_after (10 s): answer at once, retryable
    httpserver.expect_request("/issue").respond_with_response(
        Response("", status=429, headers={"Retry-After": "15"})
    )
    with pytest.raises(UpstreamUnavailable) as err:
        client_for(base_url).request("POST", "/issue", json_body={})
    assert sleeps == [] and len(httpserver.log) == 1
    assert err.value.to_body()["retry_after_seconds"] == 15 and "longer than we wait" in err.value.message


def test_a_post_after_an_idle_pause_starts_on_fresh_connections(monkeypatch):
    """A kept-alive connection idle across a frozen Lambda is often closed by the server already; a POST
    failing on it could not be told from 'sent and lost', so the pool is emptied first."""
    from opsagent.tickets import http

    class Pool:
        def __init__(self):
            self.events = []

        def clear(self):
            self.events.append("clear")

        def request(self, method, url, **kw):
            self.events.append(method)
            return types.SimpleNamespace(
                status=200, headers={}, read=lambda amt: b"{}", release_conn=lambda: None
            )

    now = [100.0]
    monkeypatch.setattr(http, "_clock", lambda: now[0])
    c = client_for("https://jira.example")
    c._pool = pool = Pool()
    c.request("GET", "/a")
    c.request("POST", "/b", json_body={})  # right after: the connection is warm
    now[0] += 60  # the container was frozen for a minute
    c.request("GET", "/c")  # a GET may simply be retried: keep the pool
    now[0] += 60
    c.request("POST", "/d", json_body={})
    assert pool.events == ["GET", "POST", "GET", "clear", "POST"]
