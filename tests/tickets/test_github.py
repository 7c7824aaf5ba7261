"""GitHub Issues backend against a local server checking the documented REST shapes (headers,
POST /repos/o/r/issues, GET .../issues?labels=...&state=open, POST .../comments), rate limits."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from opsagent.errors import InvalidInput, NotFound, PermissionMissing, UpstreamUnavailable
from opsagent.tickets import service

from .conftest import TOKEN


@pytest.fixture
def github(monkeypatch, make_secret, base_url):
    arn = make_secret("opsagent/github", {"token": TOKEN})
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps({"backend": "github", "repo": "acme/incidents", "base_url": base_url, "secret_arn": arn}),
    )
    return base_url


def gh_issue(
    number: int, *, state="open", labels=("opsagent", "service:checkout", "severity:sev2"), pr=False
) -> dict:
    issue = {
        "id": 1000 + number,
        "number": number,
        "html_url": f"https://github.com/acme/incidents/issues/{number}",
        "state": state,
        "title": "[sev2] checkout p99 above 2s",
        "labels": [{"id": i, "name": n, "color": "ededed"} for i, n in enumerate(labels)],
        "created_at": "2026-11-20T14:06:01Z",
    }
    if pr:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/acme/incidents/pulls/{number}"}
    return issue


def request(**overrides) -> dict:
    return {
        "title": "checkout p99 above 2s",
        "description": "cc @acme/oncall and @alice: CPU saturation",
        "severity": "sev2",
        "service": "checkout",
        "fingerprint": "checkout-high-cpu",
        **overrides,
    }


def assert_github_headers(req) -> None:
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Accept"] == "application/vnd.github+json"
    assert req.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert req.headers["User-Agent"]


def test_create_sends_labels_and_defuses_mentions(github, httpserver, ctx):
    httpserver.expect_ordered_request("/repos/acme/incidents/issues", method="GET").respond_with_json([])
    httpserver.expect_ordered_request("/repos/acme/incidents/issues", method="POST").respond_with_json(
        gh_issue(17, labels=("opsagent", "service:checkout", "severity:sev2", "fp:checkout-high-cpu")),
        status=201,
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert (result.id, result.url, result.status) == (
        "17",
        "https://github.com/acme/incidents/issues/17",
        "open",
    )

    (search, _), (create, _) = httpserver.log
    assert_github_headers(search)
    assert search.args["labels"] == "opsagent,fp:checkout-high-cpu" and search.args["state"] == "open"
    assert_github_headers(create)
    body = create.get_json()
    assert body["title"] == "[sev2] checkout p99 above 2s"
    assert sorted(body["labels"]) == ["fp:checkout-high-cpu", "opsagent", "service:checkout", "severity:sev2"]
    assert "@acme/oncall" not in body["body"] and "@\u200bacme/oncall" in body["body"]
    assert "@\u200balice" in body["body"]


def test_same_fingerprint_comments_and_skips_pull_requests(github, httpserver, ctx):
    httpserver.expect_ordered_request("/repos/acme/incidents/issues", method="GET").respond_with_json(
        [gh_issue(30, pr=True), gh_issue(12)]
    )
    httpserver.expect_ordered_request("/repos/acme/incidents/issues/12", method="GET").respond_with_json(
        gh_issue(12)
    )
    httpserver.expect_ordered_request(
        "/repos/acme/incidents/issues/12/comments", method="POST"
    ).respond_with_json(
        {"id": 1, "html_url": "https://github.com/acme/incidents/issues/12#issuecomment-1", "body": "..."},
        status=201,
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert result.deduplicated and result.id == "12"
    assert "OpsAgent saw this again" in httpserver.log[-1][0].get_json()["body"]


def test_search_all_states_and_bounds(github, httpserver, ctx):
    httpserver.expect_request("/repos/acme/incidents/issues").respond_with_json(
        [gh_issue(n, state="closed" if n % 2 else "open") for n in range(9, 0, -1)]
    )
    found = service.search(ctx, service="checkout", include_closed=True, limit=3, audit=None)
    assert [(t.id, t.status) for t in found.tickets] == [("9", "closed"), ("8", "open"), ("7", "closed")]
    assert found.more_available and found.tickets[0].title == "checkout p99 above 2s"
    args = httpserver.log[0][0].args
    assert (args["state"], args["labels"], args["sort"], args["direction"]) == (
        "all",
        "opsagent,service:checkout",
        "created",
        "desc",
    )


def test_rate_limited_403_waits_for_reset_then_succeeds(github, httpserver, ctx, sleeps):
    reset = int(time.time()) + 3
    httpserver.expect_ordered_request("/repos/acme/incidents/issues").respond_with_json(
        {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"},
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    httpserver.expect_ordered_request("/repos/acme/incidents/issues").respond_with_json([gh_issue(4)])
    found = service.search(ctx, service="checkout", audit=None)
    assert [t.id for t in found.tickets] == ["4"]
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.5


def test_secondary_rate_limit_longer_than_we_wait_is_a_retryable_503(github, httpserver, ctx, sleeps):
    httpserver.expect_request("/repos/acme/incidents/issues").respond_with_json(
        {"message": "You have exceeded a secondary rate limit"}, status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(UpstreamUnavailable) as err:
        service.search(ctx, service="checkout", audit=None)
    body = err.value.to_body()
    assert body["retryable"] is True and body["retry_after_seconds"] == 120
    assert sleeps == [] and len(httpserver.log) == 1


def test_plain_403_is_permission_missing(github, httpserver, ctx):
    httpserver.expect_request("/repos/acme/incidents/issues").respond_with_json(
        {"message": "Resource not accessible by personal access token"}, status=403
    )
    with pytest.raises(PermissionMissing, match="Resource not accessible"):
        service.search(ctx, service="checkout", audit=None)
    assert len(httpserver.log) == 1


def test_comment_validates_the_number_and_refuses_pull_requests(github, httpserver, ctx):
    with pytest.raises(InvalidInput):
        service.add_comment(ctx, "../../orgs/acme", "x", audit=None)
    httpserver.expect_request("/repos/acme/incidents/issues/5").respond_with_json(gh_issue(5, pr=True))
    with pytest.raises(InvalidInput, match="pull request"):
        service.add_comment(ctx, "#5", "x", audit=None)
    httpserver.expect_request("/repos/acme/incidents/issues/6").respond_with_json(
        {"message": "Not Found"}, status=404
    )
    with pytest.raises(NotFound):
        service.add_comment(ctx, "6", "x", audit=None)


def test_dropped_labels_are_warned_about(github, httpserver, ctx, caplog):
    httpserver.expect_ordered_request("/repos/acme/incidents/issues", method="GET").respond_with_json([])
    httpserver.expect_ordered_request("/repos/acme/incidents/issues", method="POST").respond_with_json(
        gh_issue(18, labels=()), status=201
    )
    service.create_ticket(ctx, request(), audit=None)
    assert "dropped the issue labels" in caplog.text


def test_post_is_not_resent_on_a_read_timeout(monkeypatch, make_secret, base_url, httpserver, ctx):
    arn = make_secret("opsagent/github-slow", {"token": TOKEN})
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps(
            {
                "backend": "github",
                "repo": "acme/incidents",
                "base_url": base_url,
                "secret_arn": arn,
                "timeout_seconds": 0.3,
            }
        ),
    )

    received = []

    def slow(_request):
        received.append(time.monotonic())
        time.sleep(0.8)
        return Response(json.dumps(gh_issue(19)), status=201, content_type="application/json")

    httpserver.expect_request("/repos/acme/incidents/issues", method="POST").respond_with_handler(slow)
    with pytest.raises(Exception) as err:
        service.create_ticket(ctx, request(fingerprint=""), audit=None)
    body = err.value.to_body()
    assert (body["error"], body["retryable"]) == ("upstream_outcome_unknown", False)
    assert "may or may not have been applied" in err.value.message
    time.sleep(1.0)  # let the server finish; a blind retry would have arrived by now
    assert len(received) == 1
