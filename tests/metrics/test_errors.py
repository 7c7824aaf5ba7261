"""AWS failures become readable, correctly-coded bodies; GetMetricData paging is followed and bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
from botocore.stub import Stubber

from opsagent.errors import PermissionMissing, UpstreamUnavailable
from opsagent.metrics.cloudwatch import MetricsSettings, query_metric
from opsagent.metrics.models import MetricQuery

QUERY = {
    "metric_namespace": "AWS/SQS",
    "metric_name": "ApproximateAgeOfOldestMessage",
    "dimensions": "QueueName=orders",
}


@pytest.fixture
def stubbed(cw):
    from opsagent.aws import client

    real = client("cloudwatch")  # the cached client the handler will use
    with Stubber(real) as stub:
        yield stub


@pytest.mark.parametrize(
    ("code", "http", "status", "error", "retryable"),
    [
        ("AccessDenied", 403, 403, "permission_missing", False),
        ("AccessDeniedException", 400, 403, "permission_missing", False),
        ("Throttling", 400, 503, "upstream_unavailable", True),
        ("InvalidParameterValue", 400, 400, "invalid_input", False),
        ("InternalServiceFault", 500, 503, "upstream_unavailable", True),
    ],
)
def test_get_metric_data_errors(stubbed, invoke, code, http, status, error, retryable):
    stubbed.add_client_error(
        "get_metric_data", service_error_code=code, http_status_code=http, service_message="no"
    )
    got_status, body = invoke("/metrics", QUERY)
    assert got_status == status, body
    assert body["error"] == error and body["retryable"] is retryable
    if error == "permission_missing":
        assert body["action"] == "cloudwatch:GetMetricData"
        assert "cloudwatch:GetMetricData" in body["message"]


def test_describe_alarms_access_denied_names_the_action(stubbed, invoke):
    stubbed.add_client_error("describe_alarms", service_error_code="AccessDenied", http_status_code=403)
    status, body = invoke("/alarms")
    assert status == 403
    assert body == {
        "error": "permission_missing",
        "message": "the function's IAM role is not allowed to call cloudwatch:DescribeAlarms",
        "retryable": False,
        "action": "cloudwatch:DescribeAlarms",
        "aws_code": "AccessDenied",
    }


def test_describe_alarms_throttled_is_retryable(stubbed, invoke):
    stubbed.add_client_error("describe_alarms", service_error_code="Throttling", http_status_code=400)
    status, body = invoke("/alarms")
    assert status == 503 and body["retryable"] is True and "throttling" in body["message"]


class FakeCW:
    def __init__(self, pages=None, exc=None, list_exc=None):
        self.pages, self.exc, self.list_exc = pages or [], exc, list_exc
        self.calls: list[dict] = []

    def get_metric_data(self, **kw):
        self.calls.append(kw)
        if self.exc:
            raise self.exc
        index = int(kw.get("NextToken", "0"))
        page = {"MetricDataResults": [self.pages[index]]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page

    def list_metrics(self, **kw):
        if self.list_exc:
            raise self.list_exc
        return {"Metrics": []}


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def page(start_minute: int, count: int, status="PartialData"):
    ts = [NOW - timedelta(minutes=60 - start_minute - i) for i in range(count)]
    return {
        "Id": "m1",
        "Timestamps": ts,
        "Values": [float(start_minute + i) for i in range(count)],
        "StatusCode": status,
    }


def run(fake, **kw):
    q = MetricQuery.create(metric_namespace="AWS/SQS", metric_name="NumberOfMessagesSent", **kw)
    return query_metric(q, settings=MetricsSettings(), client=fake, now=NOW)


def test_next_token_pages_are_merged_in_order():
    fake = FakeCW([page(0, 20), page(20, 20), page(40, 19, status="Complete")])
    result = run(fake)
    assert result.datapoints == 59 and result.partial is False
    assert [c.get("NextToken") for c in fake.calls] == [None, "1", "2"]
    assert fake.calls[0]["ScanBy"] == "TimestampAscending" and fake.calls[0]["MaxDatapoints"] == 1440
    assert result.summary.first_timestamp == "2024-05-01T11:00:00Z"
    assert result.summary.last == 58.0


def test_paging_is_bounded_and_flagged_partial():
    fake = FakeCW([page(i, 1) for i in range(9)])
    result = run(fake)
    assert len(fake.calls) == 5 and result.partial is True
    assert any("partial data" in n for n in result.notes)


def test_forbidden_status_code_is_permission_missing():
    fake = FakeCW([{"Id": "m1", "Timestamps": [], "Values": [], "StatusCode": "Forbidden"}])
    with pytest.raises(PermissionMissing):
        run(fake)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"),
            "upstream_unavailable",
        ),
        (ConnectTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"), "upstream_timeout"),
    ],
)
def test_transport_failures(exc, kind):
    with pytest.raises(Exception) as err:
        run(FakeCW(exc=exc))
    assert getattr(err.value, "code", None) == kind


def test_list_metrics_denied_does_not_fail_an_empty_query():
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListMetrics")
    result = run(FakeCW([page(0, 0, status="Complete")], list_exc=denied))
    assert result.datapoints == 0 and result.similar_metrics == []
    assert any("cloudwatch:ListMetrics" in n for n in result.notes)


def test_unknown_bug_is_not_disguised_as_aws_error():
    with pytest.raises(ZeroDivisionError):
        run(FakeCW(exc=ZeroDivisionError()))


def test_throttle_error_type():
    from botocore.exceptions import ClientError

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetMetricData"
    )
    with pytest.raises(UpstreamUnavailable) as err:
        run(FakeCW(exc=throttled))
    assert err.value.retryable and err.value.details["action"] == "cloudwatch:GetMetricData"


def test_internal_error_status_is_retryable_unavailable():
    fake = FakeCW([{"Id": "m1", "Timestamps": [], "Values": [], "StatusCode": "InternalError"}])
    with pytest.raises(UpstreamUnavailable) as err:
        run(fake)
    assert err.value.retryable


@pytest.mark.parametrize(
    ("now", "period", "start", "end"),
    [
        # 37 s into a minute: the minute in progress is incomplete, so the window ends at 12:00:00
        (datetime(2024, 5, 1, 12, 0, 37, tzinfo=UTC), None, "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"),
        (datetime(2024, 5, 1, 12, 7, 0, tzinfo=UTC), 300, "2024-05-01T11:05:00Z", "2024-05-01T12:05:00Z"),
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC), None, "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"),
    ],
)
def test_window_ends_at_the_last_complete_period(now, period, start, end):
    """EndTime is exclusive and StartTime is rounded down: with EndTime=now the newest datapoint
    covers a fraction of a period, so a Sum (requests, errors) looks like a sudden drop."""
    fake = FakeCW([page(0, 0, status="Complete")])
    q = MetricQuery.create(
        metric_namespace="AWS/ApplicationELB", metric_name="RequestCount", statistic="Sum", period=period
    )
    result = query_metric(q, settings=MetricsSettings(), client=fake, now=now)
    call = fake.calls[0]
    iso = "%Y-%m-%dT%H:%M:%SZ"
    assert (call["StartTime"].strftime(iso), call["EndTime"].strftime(iso)) == (start, end)
    assert (result.start, result.end) == (start, end)
