"""The domain functions called directly (as the CLI, trigger and drill do), with an injected client:
scan limit, the log re-fetch when the API sent more than we read, and settings parsing."""

from __future__ import annotations

import pytest

from opsagent.errors import ConfigurationError, InvalidInput, PolicyRefused
from opsagent.k8s.client import KubeText
from opsagent.namespaces import allowed_namespaces
from opsagent.pods import operations
from opsagent.pods.operations import check_namespace_allowed, get_pod_logs, list_pods
from pods import podjson as pj


class FakeKube:
    """Duck-typed KubeClient recording calls."""

    def __init__(self, pods=(), pod=None, logs=None):
        self.pods, self.pod, self.logs = list(pods), pod, list(logs or [])
        self.calls: list[tuple] = []

    def list(self, path, params=None, *, page_size=500, limit=None):
        self.calls.append(("list", path, params, page_size, limit))
        yield from self.pods[:limit]

    def get(self, path, params=None):
        self.calls.append(("get", path, params))
        return self.pod

    def get_text(self, path, params=None, *, max_bytes=0):
        self.calls.append(("get_text", path, dict(params), max_bytes))
        return self.logs.pop(0)


@pytest.fixture(autouse=True)
def _no_allowlist(monkeypatch):
    monkeypatch.delenv("OPSAGENT_ALLOWED_NAMESPACES", raising=False)


def test_scan_stops_at_the_limit_and_says_so(monkeypatch):
    monkeypatch.setattr(operations, "MAX_PODS_SCANNED", 25)
    kube = FakeKube(pods=[pj.crashloop(f"p-{i:03d}") for i in range(100)])
    result = list_pods("shop", kube=kube)
    assert result.pods_total == 25 and result.truncated is True
    assert "stopped after 25 pods" in result.note
    (_, path, params, page_size, limit) = kube.calls[0]
    assert (path, params, page_size, limit) == ("/api/v1/namespaces/shop/pods", None, 500, 26)


def test_log_refetch_when_the_api_sent_more_than_we_read():
    first = KubeText("old line\n" * 40 + "cut mid-li")
    first.truncated = True
    second = KubeText("".join(f"newest {i}\n" for i in range(39)))
    kube = FakeKube(pod=pj.healthy(), logs=[first, second])
    out = get_pod_logs("shop", "checkout-7d9f8b6c5d-aaaaa", lines=500, kube=kube)
    fetches = [c for c in kube.calls if c[0] == "get_text"]
    assert [c[2]["tailLines"] for c in fetches] == [500, 39]
    assert out.text.endswith("newest 38") and "old line" not in out.text


def test_logs_path_and_params_are_built_from_validated_names():
    kube = FakeKube(pod=pj.crashloop(), logs=[KubeText("x\n")])
    get_pod_logs("shop", "checkout-7d9f8b6c5d-crash", lines=7, previous=True, kube=kube)
    get_call = kube.calls[0]
    text_call = kube.calls[1]
    assert get_call[1] == "/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-crash"
    assert text_call[1] == "/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-crash/log"
    assert text_call[2] == {"container": "api", "tailLines": 7, "previous": "true"}


@pytest.mark.parametrize("lines", [0, 501, -1, True])
def test_lines_range_is_enforced_in_the_domain_too(lines):
    kube = FakeKube(pod=pj.healthy())
    with pytest.raises(InvalidInput, match="1 to 500"):
        get_pod_logs("shop", "checkout-7d9f8b6c5d-aaaaa", lines=lines, kube=kube)
    assert kube.calls == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("shop,payments", {"shop", "payments"}),
        (" shop , ,payments ", {"shop", "payments"}),
        ('["shop"]', {"shop"}),
        ("", None),
        (" , ", None),
    ],
)
def test_allowed_namespaces_setting_parses_comma_lists_and_json(raw, expected):
    assert allowed_namespaces({"OPSAGENT_ALLOWED_NAMESPACES": raw}) == expected


def test_allowlist_check(monkeypatch):
    check_namespace_allowed("anything")  # unset: every namespace readable
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", "shop")
    check_namespace_allowed("shop")
    with pytest.raises(PolicyRefused) as err:
        check_namespace_allowed("kube-system")
    assert err.value.rule == "allowed_namespaces" and err.value.status_code == 403
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", '["shop"')
    with pytest.raises(ConfigurationError):
        check_namespace_allowed("shop")


def _long_name(prefix: str, n: int = 253) -> str:
    return (prefix + "-" + "a" * n)[:n]


def test_list_body_is_cut_to_budget_when_names_are_extreme():
    # 253-character names, nodes and images: ten listed pods would be ~17 KB without the fit loop
    pods = []
    for i in range(30):
        p = pj.image_pull(_long_name(f"p{i:02d}"))
        p["spec"]["nodeName"] = _long_name(f"node{i:02d}")
        p["metadata"]["ownerReferences"][0]["name"] = _long_name(f"rs{i:02d}", 250)
        p["status"]["containerStatuses"][0]["image"] = "r/" + "i" * 300
        pods.append(p)
    result = list_pods("shop", kube=FakeKube(pods=pods))
    body = result.model_dump_json()
    assert len(body.encode()) <= operations.BODY_BUDGET, len(body)
    assert result.truncated is True
    assert 0 < len(result.problem_pods) < 10
    assert len(result.problem_pods) + result.problem_pods_omitted == result.problem_pods_total == 30


def test_describe_body_is_cut_to_budget_with_many_large_containers_and_events():
    p = pj.pod(
        _long_name("big"),
        containers=[
            pj.container_status(
                f"c{i}",
                image="r/" + "i" * 300,
                ready=False,
                restarts=3,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": "m" * 500}},
                last={"exitCode": 1, "reason": "Error", "message": "e" * 500, "finishedAt": pj.T2},
            )
            for i in range(12)
        ],
        init_containers=[
            pj.container_status(
                f"init{i}",
                ready=False,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": "w" * 500}},
            )
            for i in range(5)
        ],
    )
    p["metadata"]["labels"].update({f"example.com/label-{i:02d}": "v" * 63 for i in range(12)})
    events = [
        pj.event(p["metadata"]["name"], "BackOff", "x" * 500, f"2026-03-02T09:{i:02d}:00Z") for i in range(20)
    ]

    class EventsKube(FakeKube):
        def list(self, path, params=None, *, page_size=500, limit=None):
            self.calls.append(("list", path, params, page_size, limit))
            yield from events

    result = operations.describe_pod("shop", p["metadata"]["name"], kube=EventsKube(pod=p))
    body = result.model_dump_json()
    assert len(body.encode()) <= operations.BODY_BUDGET, len(body)
    assert result.truncated is True
    assert result.containers  # at least the first container is always kept
    assert len(result.events) + result.events_omitted == 20
    assert len(result.containers) + result.containers_omitted == 12
