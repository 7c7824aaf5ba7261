"""Jira Cloud backend against a local server that checks the documented v3 request shapes
(POST /rest/api/3/issue with ADF, GET /rest/api/3/search/jql, POST .../comment) and answers with
the documented response shapes."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug import Response

from opsagent.errors import InvalidInput, PermissionMissing, UpstreamTimeout
from opsagent.tickets import service
from opsagent.tickets.jira import adf
from opsagent.tickets.models import fingerprint_key

from .conftest import JIRA_TOKEN

EMAIL = "opsagent-bot@acme.example"
AUTH = "Basic " + base64.b64encode(f"{EMAIL}:{JIRA_TOKEN}".encode()).decode()


@pytest.fixture
def jira(monkeypatch, make_secret, base_url):
    arn = make_secret("opsagent/jira", {"email": EMAIL, "api_token": JIRA_TOKEN})
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps(
            {
                "backend": "jira",
                "base_url": base_url,
                "project_key": "OPS",
                "issue_type": "Incident",
                "secret_arn": arn,
                "priorities": {"sev1": "Highest", "sev2": "High"},
            }
        ),
    )
    return base_url


def issue(key: str, *, done: bool = False, labels=("opsagent", "service:checkout", "severity:sev2")) -> dict:
    return {
        "id": "10042",
        "key": key,
        "self": f"https://acme.atlassian.net/rest/api/3/issue/{key}",
        "fields": {
            "summary": "[SEV2] checkout p99 above 2s",
            "status": {
                "name": "Done" if done else "In Progress",
                "statusCategory": {"key": "done" if done else "indeterminate"},
            },
            "labels": list(labels),
            "created": "2026-11-20T14:06:01.000+0000",
        },
    }


def search_page(*issues: dict) -> dict:
    return {"issues": list(issues), "isLast": True}


def request(**overrides) -> dict:
    return {
        "title": "checkout p99 above 2s",
        "description": "Line one\nline two\n\nSecond paragraph",
        "severity": "sev2",
        "service": "checkout",
        "fingerprint": "checkout-high-cpu",
        **overrides,
    }


def test_create_sends_the_documented_shape(jira, httpserver, ctx):
    httpserver.expect_ordered_request("/rest/api/3/search/jql", method="GET").respond_with_json(search_page())
    httpserver.expect_ordered_request("/rest/api/3/issue", method="POST").respond_with_json(
        {"id": "10042", "key": "OPS-42", "self": "https://acme.atlassian.net/rest/api/3/issue/10042"},
        status=201,
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert (result.id, result.url, result.status, result.deduplicated) == (
        "OPS-42",
        f"{jira}/browse/OPS-42",
        "open",
        False,
    )

    (search_req, _), (create_req, _) = httpserver.log
    assert search_req.headers["Authorization"] == AUTH
    jql = search_req.args["jql"]
    assert jql == (
        'project = "OPS" AND labels = "opsagent" AND labels = "fp:checkout-high-cpu" '
        "AND statusCategory != Done ORDER BY created DESC"
    )
    assert (
        search_req.args["fields"] == "summary,status,labels,created" and search_req.args["maxResults"] == "2"
    )

    assert create_req.headers["Authorization"] == AUTH
    assert create_req.headers["Content-Type"] == "application/json"
    fields = create_req.get_json()["fields"]
    assert fields["project"] == {"key": "OPS"}
    assert fields["issuetype"] == {"name": "Incident"}
    assert fields["summary"] == "[SEV2] checkout p99 above 2s"
    assert fields["priority"] == {"name": "High"}
    assert sorted(fields["labels"]) == [
        "fp:checkout-high-cpu",
        "opsagent",
        "service:checkout",
        "severity:sev2",
    ]
    doc = fields["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    first, second = doc["content"][:2]
    assert first == {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "Line one"},
            {"type": "hardBreak"},
            {"type": "text", "text": "line two"},
        ],
    }
    assert second["content"][0]["text"] == "Second paragraph"
    assert "Filed by OpsAgent" in json.dumps(doc["content"][-1])


def test_open_issue_with_same_fingerprint_gets_an_adf_comment(jira, httpserver, ctx):
    httpserver.expect_ordered_request("/rest/api/3/search/jql", method="GET").respond_with_json(
        search_page(issue("OPS-7"))
    )
    httpserver.expect_ordered_request("/rest/api/3/issue/OPS-7", method="GET").respond_with_json(
        issue("OPS-7")
    )
    httpserver.expect_ordered_request("/rest/api/3/issue/OPS-7/comment", method="POST").respond_with_json(
        {"id": "10001", "self": "https://acme.atlassian.net/rest/api/3/issue/10010/comment/10001"}, status=201
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert result.deduplicated is True and result.id == "OPS-7" and result.status == "open"
    body = httpserver.log[-1][0].get_json()["body"]
    assert body["type"] == "doc" and "OpsAgent saw this again" in json.dumps(body)
    assert not any(r.path == "/rest/api/3/issue" for r, _ in httpserver.log)  # no create


def test_search_maps_status_category_and_labels(jira, httpserver, ctx):
    httpserver.expect_request("/rest/api/3/search/jql").respond_with_json(
        {
            "issues": [issue("OPS-9"), issue("OPS-8", done=True), issue("OPS-3")],
            "isLast": False,
            "nextPageToken": "x",
        }
    )
    found = service.search(ctx, service="checkout", include_closed=True, limit=2, audit=None)
    assert [(t.id, t.status) for t in found.tickets] == [("OPS-9", "open"), ("OPS-8", "closed")]
    assert (
        found.more_available
        and found.tickets[0].service == "checkout"
        and found.tickets[0].severity == "sev2"
    )
    jql = httpserver.log[0][0].args["jql"]
    assert 'labels = "service:checkout"' in jql and "statusCategory" not in jql


def test_hostile_fingerprint_cannot_change_the_jql(jira, httpserver, ctx):
    evil = 'x" OR project != "OPS'
    httpserver.expect_request("/rest/api/3/search/jql").respond_with_json(search_page())
    service.search(ctx, fingerprint=evil, audit=None)
    jql = httpserver.log[0][0].args["jql"]
    assert jql.count('"') == 6  # three quoted labels/keys, nothing injected
    assert f'labels = "fp:{fingerprint_key(evil)}"' in jql and " OR " not in jql


def test_comment_only_on_the_configured_project(jira, httpserver, ctx):
    with pytest.raises(InvalidInput, match="project OPS"):
        service.add_comment(ctx, "SEC-1", "hi", audit=None)
    assert httpserver.log == []


def test_401_is_permission_missing_without_the_token(jira, httpserver, ctx, caplog, capsys):
    # Jira error shape; a hostile/buggy proxy echoing the credentials must not leak them either
    httpserver.expect_request("/rest/api/3/search/jql").respond_with_json(
        {"errorMessages": [f"Client must be authenticated ({AUTH} / {JIRA_TOKEN})"], "errors": {}}, status=401
    )
    with pytest.raises(PermissionMissing) as err:
        service.create_ticket(ctx, request(), audit=None)
    body = json.dumps(err.value.to_body())
    assert err.value.to_body()["error"] == "permission_missing"
    assert "HTTP 401" in body and "Client must be authenticated" in body
    for leaked in (JIRA_TOKEN, AUTH.split()[1]):
        assert leaked not in body
        assert leaked not in caplog.text
        assert leaked not in capsys.readouterr().out


def test_create_timeout_reconciles_by_fingerprint(jira, httpserver, ctx):
    httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_json(search_page())
    httpserver.expect_ordered_request("/rest/api/3/issue", method="POST").respond_with_response(
        Response("gateway timeout", status=504)
    )
    httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_json(
        search_page(issue("OPS-43"))
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert result.id == "OPS-43" and not result.deduplicated and "not duplicated" in result.message
    assert sum(1 for r, _ in httpserver.log if r.method == "POST") == 1  # the POST was not re-sent


def test_create_timeout_without_fingerprint_says_search_first(jira, httpserver, ctx):
    httpserver.expect_request("/rest/api/3/issue", method="POST").respond_with_response(
        Response("", status=502)
    )
    with pytest.raises(UpstreamTimeout) as err:
        service.create_ticket(ctx, request(fingerprint=""), audit=None)
    assert "Search for the ticket" in err.value.message and "pass a fingerprint" in err.value.message
    assert len(httpserver.log) == 1


def test_adf_skips_empty_lines_and_never_builds_empty_text_nodes():
    doc = adf("\n\n a \n\n\n\nb\n\n")
    texts = [n for p in doc["content"] for n in p["content"] if n["type"] == "text"]
    assert [n["text"] for n in texts] == [" a ", "b"]
    assert adf("")["content"] == [{"type": "paragraph", "content": []}]


def test_unknown_create_outcome_is_never_reported_as_retryable(jira, httpserver, ctx):
    """A create that may have happened must not invite a blind retry (it would file a twin)."""
    httpserver.expect_request("/rest/api/3/issue", method="POST").respond_with_response(
        Response("", status=502)
    )
    with pytest.raises(UpstreamTimeout) as err:
        service.create_ticket(ctx, request(fingerprint=""), audit=None)
    body = err.value.to_body()
    assert body["retryable"] is False and body["error"] == "upstream_outcome_unknown"


def test_unknown_create_outcome_not_found_by_fingerprint_is_not_retryable(jira, httpserver, ctx):
    # /search/jql is eventually consistent: "not found yet" does not mean "not created"
    httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_json(search_page())
    httpserver.expect_ordered_request("/rest/api/3/issue", method="POST").respond_with_response(
        Response("", status=504)
    )
    httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_json(search_page())
    with pytest.raises(UpstreamTimeout) as err:
        service.create_ticket(ctx, request(), audit=None)
    body = err.value.to_body()
    assert body["retryable"] is False and body["error"] == "upstream_outcome_unknown"
    assert "searchTickets" in body["message"]


def test_failed_reconciliation_search_keeps_the_outcome_unknown(jira, httpserver, ctx):
    """If the search that should reconcile an unknown create fails, the caller must still learn that the
    ticket may exist (not a retryable 'search failed', which invites a second create)."""
    httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_json(search_page())
    httpserver.expect_ordered_request("/rest/api/3/issue", method="POST").respond_with_response(
        Response("", status=504)
    )
    for _ in range(3):
        httpserver.expect_ordered_request("/rest/api/3/search/jql").respond_with_response(
            Response("", status=503)
        )
    with pytest.raises(UpstreamTimeout) as err:
        service.create_ticket(ctx, request(), audit=None)
    body = err.value.to_body()
    assert body["retryable"] is False and body["error"] == "upstream_outcome_unknown"
    assert sum(1 for r, _ in httpserver.log if r.method == "POST") == 1


def test_a_create_is_not_sent_when_the_call_has_no_time_left_for_its_answer(
    jira, httpserver, ctx, monkeypatch
):
    """The tickets Lambda has 30 s. A POST cut off by the Lambda timeout is the worst outcome (the issue
    may exist, nobody learns its key, the model retries). A slow search must not leave the create
    without time for its answer: refuse to send it instead (nothing sent, safe to retry)."""
    from opsagent.tickets import http

    now = [1000.0]
    monkeypatch.setattr(http, "_clock", lambda: now[0])

    def slow_search(_request):
        now[0] += 15  # the search took 15 of the call's 20 seconds
        return Response(json.dumps(search_page()), status=200, content_type="application/json")

    httpserver.expect_request("/rest/api/3/search/jql").respond_with_handler(slow_search)
    with pytest.raises(UpstreamTimeout) as err:
        service.create_ticket(ctx, request(), audit=None)
    body = err.value.to_body()
    assert body["error"] == "upstream_timeout" and body["retryable"] is True
    assert "nothing was sent" in body["message"]
    assert [r.method for r, _ in httpserver.log] == ["GET"]
