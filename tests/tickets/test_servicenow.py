"""ServiceNow backend against a local server checking the Table API shapes: POST
/api/now/table/incident, GET with sysparm_query, PATCH work_notes; answers {"result": ...}."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug import Response

from opsagent.errors import InvalidInput, NotFound, PermissionMissing
from opsagent.tickets import service
from opsagent.tickets.models import fingerprint_key

from .conftest import SNOW_PASSWORD

SYS_ID = "ef43c6d40a0a0b5700c77f9bf387afe3"
AUTH = "Basic " + base64.b64encode(f"opsagent:{SNOW_PASSWORD}".encode()).decode()


def record(number="INC0010002", sys_id=SYS_ID, active="true", **extra) -> dict:
    return {
        "sys_id": sys_id,
        "number": number,
        "active": active,
        "state": "1" if active == "true" else "7",
        "short_description": "[checkout] checkout p99 above 2s",
        "urgency": "1",
        "impact": "2",
        "correlation_id": "checkout-high-cpu",
        "sys_created_on": "2026-11-20 14:06:01",
        **extra,
    }


def configure(monkeypatch, make_secret, base_url, secret: dict, **extra) -> None:
    arn = make_secret("opsagent/snow", secret)
    monkeypatch.setenv(
        "OPSAGENT_TICKETS",
        json.dumps({"backend": "servicenow", "base_url": base_url, "secret_arn": arn, **extra}),
    )


@pytest.fixture
def snow(monkeypatch, make_secret, base_url):
    configure(
        monkeypatch,
        make_secret,
        base_url,
        {"username": "opsagent", "password": SNOW_PASSWORD},
        assignment_group="287ebd7da9fe198100f92cc8d1d2154e",
    )
    return base_url


def request(**overrides) -> dict:
    return {
        "title": "checkout p99 above 2s",
        "description": "RCA: CPU saturation",
        "severity": "sev2",
        "service": "checkout",
        "fingerprint": "checkout-high-cpu",
        **overrides,
    }


def test_create_posts_the_incident_fields(snow, httpserver, ctx):
    httpserver.expect_ordered_request("/api/now/table/incident", method="GET").respond_with_json(
        {"result": []}
    )
    httpserver.expect_ordered_request("/api/now/table/incident", method="POST").respond_with_json(
        {"result": record()}, status=201, headers={"Location": f"{snow}/api/now/table/incident/{SYS_ID}"}
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert (result.id, result.status, result.deduplicated) == ("INC0010002", "open", False)
    assert result.url == f"{snow}/nav_to.do?uri=incident.do%3Fsys_id%3D{SYS_ID}"

    (search, _), (create, _) = httpserver.log
    assert search.headers["Authorization"] == AUTH
    assert search.args["sysparm_query"] == (
        "active=true^correlation_display=opsagent^correlation_id=checkout-high-cpu^ORDERBYDESCsys_created_on"
    )
    assert search.args["sysparm_limit"] == "2"
    assert create.headers["Authorization"] == AUTH and create.headers["Accept"] == "application/json"
    body = create.get_json()
    assert body["short_description"] == "[checkout] checkout p99 above 2s"
    assert (body["urgency"], body["impact"]) == ("1", "2")
    assert body["correlation_id"] == "checkout-high-cpu" and body["correlation_display"] == "opsagent"
    assert body["assignment_group"] == "287ebd7da9fe198100f92cc8d1d2154e"
    assert (
        body["description"].startswith("RCA: CPU saturation") and "Filed by OpsAgent" in body["description"]
    )
    assert "sys_id" in create.args["sysparm_fields"]


def test_open_incident_with_same_fingerprint_gets_work_notes(snow, httpserver, ctx):
    httpserver.expect_ordered_request("/api/now/table/incident", method="GET").respond_with_json(
        {"result": [record()]}
    )
    httpserver.expect_ordered_request("/api/now/table/incident", method="GET").respond_with_json(
        {"result": [{"sys_id": SYS_ID, "number": "INC0010002"}]}
    )
    httpserver.expect_ordered_request(f"/api/now/table/incident/{SYS_ID}", method="PATCH").respond_with_json(
        {"result": record()}
    )
    result = service.create_ticket(ctx, request(), audit=None)
    assert result.deduplicated and result.id == "INC0010002"
    lookup, patch = httpserver.log[1][0], httpserver.log[2][0]
    assert lookup.args["sysparm_query"] == "number=INC0010002"
    assert (
        list(patch.get_json()) == ["work_notes"]
        and "OpsAgent saw this again" in patch.get_json()["work_notes"]
    )


def test_comment_by_sys_id_uses_the_configured_field(monkeypatch, make_secret, base_url, httpserver, ctx):
    configure(
        monkeypatch, make_secret, base_url, {"token": "oauth-bearer-abc123xyz"}, comment_field="comments"
    )
    httpserver.expect_request(f"/api/now/table/incident/{SYS_ID}", method="PATCH").respond_with_json(
        {"result": record(active="false")}
    )
    result = service.add_comment(ctx, SYS_ID, "customer update", audit=None)
    assert result.status == "closed" and result.ticket_id == "INC0010002"
    patch = httpserver.log[0][0]
    assert patch.headers["Authorization"] == "Bearer oauth-bearer-abc123xyz"
    assert patch.get_json() == {"comments": "customer update"}


def test_unknown_number_is_not_found(snow, httpserver, ctx):
    httpserver.expect_request("/api/now/table/incident", method="GET").respond_with_json({"result": []})
    with pytest.raises(NotFound):
        service.add_comment(ctx, "INC0099999", "hello", audit=None)


def test_query_injection_through_fingerprint_or_id_is_impossible(snow, httpserver, ctx):
    evil = "x^ORactive=false^correlation_idISNOTEMPTY"
    httpserver.expect_request("/api/now/table/incident", method="GET").respond_with_json({"result": []})
    service.search(ctx, fingerprint=evil, audit=None)
    query = httpserver.log[0][0].args["sysparm_query"]
    assert query.count("^") == 3 and "ORactive" not in query
    assert f"correlation_id={fingerprint_key(evil)}" in query
    with pytest.raises(InvalidInput):
        service.add_comment(ctx, "INC1^ORnumber!=x", "x", audit=None)
    with pytest.raises(InvalidInput):  # invalid service never reaches STARTSWITH
        service.search(ctx, service="checkout]^ORactive=false", audit=None)


def test_long_description_is_clipped_and_kept_whole_in_a_work_note(snow, httpserver, ctx):
    long_text = "evidence line\n" * 600  # ~8.4 KB > 4000 characters
    httpserver.expect_ordered_request("/api/now/table/incident", method="GET").respond_with_json(
        {"result": []}
    )
    httpserver.expect_ordered_request("/api/now/table/incident", method="POST").respond_with_json(
        {"result": record()}, status=201
    )
    httpserver.expect_ordered_request(f"/api/now/table/incident/{SYS_ID}", method="PATCH").respond_with_json(
        {"result": {"sys_id": SYS_ID}}
    )
    service.create_ticket(ctx, request(description=long_text), audit=None)
    create, patch = httpserver.log[1][0], httpserver.log[2][0]
    assert len(create.get_json()["description"]) <= 4000
    assert "full text is in the first work_notes entry" in create.get_json()["description"]
    assert patch.get_json()["work_notes"].startswith(long_text.strip())


def test_403_with_servicenow_error_shape(snow, httpserver, ctx):
    httpserver.expect_request("/api/now/table/incident").respond_with_json(
        {
            "error": {"message": "User Not Authorized", "detail": "Required to provide Auth information"},
            "status": "failure",
        },
        status=403,
    )
    with pytest.raises(PermissionMissing) as err:
        service.search(ctx, service="checkout", audit=None)
    body = err.value.to_body()
    assert body["error"] == "permission_missing" and body["http_status"] == 403
    assert "User Not Authorized" in body["message"] and SNOW_PASSWORD not in json.dumps(body)


def test_secret_without_usable_keys_names_the_keys_not_values(
    monkeypatch, make_secret, base_url, httpserver, ctx
):
    configure(monkeypatch, make_secret, base_url, {"user": "opsagent", "pass": SNOW_PASSWORD})
    with pytest.raises(Exception) as err:
        service.search(ctx, service="checkout", audit=None)
    body = json.dumps(err.value.to_body())
    assert err.value.to_body()["error"] == "configuration_error"
    assert '{\\"username\\", \\"password\\"} or {\\"token\\"}' in body and SNOW_PASSWORD not in body
    assert httpserver.log == []


def test_503_then_success_is_retried_for_a_search(snow, httpserver, ctx, sleeps):
    httpserver.expect_ordered_request("/api/now/table/incident").respond_with_response(
        Response("maintenance", status=503, headers={"Retry-After": "2"})
    )
    httpserver.expect_ordered_request("/api/now/table/incident").respond_with_json({"result": [record()]})
    found = service.search(ctx, service="checkout", audit=None)
    assert [t.id for t in found.tickets] == ["INC0010002"] and found.tickets[0].service == "checkout"
    assert sleeps == [2.0]
