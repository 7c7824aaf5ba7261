"""The production client (opsagent.k8s.get_kube) over real HTTP against the emulator."""

from __future__ import annotations

import logging
import time

import pytest

from opsagent.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionMissing,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from opsagent.k8s import build_kube, get_kube, reset_kube
from opsagent.k8s.client import describe_path

PODS = "/api/v1/namespaces/shop/pods"
LOAD = {"namespace": "load", "generate": {"namespace": "load", "count": 1234, "deployment": "web", "seed": 3}}
SCALE = "/apis/apps/v1/namespaces/shop/deployments/checkout/scale"
DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/checkout"


def _pod_names(kube, deployment="checkout"):
    return [p["metadata"]["name"] for p in kube.state.pods("shop", deployment)]


# ---- lists and pagination ------------------------------------------------------------------------


def test_pagination_follows_continue(kube_factory):
    kube = kube_factory(LOAD)
    names = [p["metadata"]["name"] for p in get_kube().list("/api/v1/namespaces/load/pods", page_size=500)]
    assert len(names) == 1234 == len(set(names))
    assert names == sorted(names)
    calls = kube.requests_matching("GET", "/namespaces/load/pods$")
    assert len(calls) == 3
    assert [c.query["limit"] for c in calls] == ["500", "500", "500"]
    assert "continue" not in calls[0].query and calls[1].query["continue"] and calls[2].query["continue"]


def test_list_limit_caps_items_and_requests(kube_factory):
    kube = kube_factory(LOAD)
    items = list(get_kube().list("/api/v1/namespaces/load/pods", page_size=100, limit=250))
    assert len(items) == 250
    calls = kube.requests_matching("GET", "/pods$")
    assert [c.query["limit"] for c in calls] == ["100", "100", "50"]


def test_list_page_reports_remaining(kube_factory):
    kube_factory(LOAD)
    page = get_kube().list_page("/api/v1/namespaces/load/pods", page_size=1000)
    assert page["kind"] == "PodList" and page["apiVersion"] == "v1"
    assert len(page["items"]) == 1000
    assert page["metadata"]["remainingItemCount"] == 234
    assert "kind" not in page["items"][0]  # list items carry no kind/apiVersion, as on a real server


def test_lazy_iteration_stops_early(kube_factory):
    kube = kube_factory(LOAD)
    it = get_kube().list("/api/v1/namespaces/load/pods", page_size=100)
    first = [next(it) for _ in range(5)]
    assert len(first) == 5
    assert len(kube.requests_matching("GET", "/pods$")) == 1


def test_label_and_field_selectors(kube):
    client = get_kube()
    checkout = list(client.list(PODS, {"labelSelector": "app=checkout"}))
    assert {p["metadata"]["labels"]["app"] for p in checkout} == {"checkout"}
    assert len(checkout) == 3
    not_checkout = list(client.list(PODS, {"labelSelector": "app notin (checkout),tier!=web"}))
    assert not_checkout and all(p["metadata"]["labels"]["app"] != "checkout" for p in not_checkout)
    running = list(client.list(PODS, {"fieldSelector": "status.phase=Running"}))
    assert len(running) == len(kube.state.pods("shop"))
    node = checkout[0]["spec"]["nodeName"]
    on_node = list(client.list("/api/v1/pods", {"fieldSelector": f"spec.nodeName={node}"}))
    assert on_node and all(p["spec"]["nodeName"] == node for p in on_node)
    assert kube.requests[-1].query["fieldSelector"] == f"spec.nodeName={node}"


def test_unsupported_field_selector_is_invalid_input(kube):
    with pytest.raises(InvalidInput, match="field label not supported: spec.bogus"):
        get_kube().get(PODS, {"fieldSelector": "spec.bogus=1"})


def test_events_for_a_pod(kube):
    pod = _pod_names(kube)[0]
    events = list(
        get_kube().list("/api/v1/namespaces/shop/events", {"fieldSelector": f"involvedObject.name={pod}"})
    )
    assert events and all(e["involvedObject"]["name"] == pod for e in events)
    ev = events[0]
    assert ev["type"] == "Warning" and ev["reason"] == "Unhealthy" and ev["count"] == 6
    assert ev["lastTimestamp"].endswith("Z") and ev["involvedObject"]["kind"] == "Pod"


def test_list_in_unknown_namespace_is_empty_like_kubernetes(kube):
    assert list(get_kube().list("/api/v1/namespaces/nope/pods")) == []


# ---- logs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kube_scenario", ["oom-crashloop"])
def test_logs_previous_and_tail(kube):
    client = get_kube()
    pod = _pod_names(kube, "cart")[0]
    path = f"/api/v1/namespaces/shop/pods/{pod}/log"
    previous = client.get_text(path, {"previous": True})
    assert "java.lang.OutOfMemoryError" in previous
    assert not previous.truncated
    tail = client.get_text(path, {"previous": True, "tailLines": 3})
    assert len(tail.splitlines()) == 3 and tail.splitlines()[0].startswith("Exception in thread")
    current = client.get_text(path, {"container": "cart"})
    assert "Starting CartService" in current and "OutOfMemoryError" not in current
    assert kube.requests[-1].query == {"container": "cart"}
    assert kube.requests_matching("GET", "/log$")[0].query["previous"] == "true"


@pytest.mark.parametrize("kube_scenario", ["oom-crashloop"])
def test_logs_are_bounded(kube):
    pod = _pod_names(kube, "cart")[0]
    text = get_kube().get_text(f"/api/v1/namespaces/shop/pods/{pod}/log", {"previous": True}, max_bytes=100)
    assert text.truncated and text.bytes_read == 100 and len(text.encode()) <= 100


def test_previous_logs_of_a_pod_that_never_restarted(kube):
    pod = _pod_names(kube)[0]
    with pytest.raises(InvalidInput, match="previous terminated container"):
        get_kube().get_text(f"/api/v1/namespaces/shop/pods/{pod}/log", {"previous": "true"})


@pytest.mark.parametrize("kube_scenario", ["bad-image-rollout"])
def test_logs_of_a_container_waiting_for_its_image(kube):
    pod = next(p for p in kube.state.pods("shop", "catalog") if p["status"]["phase"] == "Pending")
    with pytest.raises(InvalidInput, match="is waiting to start: trying and failing to pull image"):
        get_kube().get_text(f"/api/v1/namespaces/shop/pods/{pod['metadata']['name']}/log")


def test_logs_of_a_missing_pod(kube):
    with pytest.raises(NotFound) as err:
        get_kube().get_text("/api/v1/namespaces/shop/pods/ghost/log")
    assert err.value.details["resource"] == "pods/log" and err.value.details["name"] == "ghost"


# ---- errors ----------------------------------------------------------------------------------------


def test_not_found(kube):
    with pytest.raises(NotFound, match="deployments 'ghost' not found in namespace shop") as err:
        get_kube().get("/apis/apps/v1/namespaces/shop/deployments/ghost")
    assert err.value.status_code == 404
    assert err.value.to_body()["name"] == "ghost"


def test_forbidden_names_verb_resource_namespace(kube):
    kube.deny("list", "pods", namespace="shop")
    with pytest.raises(PermissionMissing) as err:
        list(get_kube().list(PODS))
    msg = err.value.message
    assert msg.startswith("the function's role lacks list on pods in namespace shop")
    assert 'cannot list resource "pods" in API group ""' in msg  # the Kubernetes Status message
    assert err.value.details["verb"] == "list" and err.value.details["kube_reason"] == "Forbidden"
    # other namespaces / verbs are unaffected
    assert get_kube().get(f"{PODS}/{_pod_names(kube)[0]}")["kind"] == "Pod"


def test_forbidden_scale_patch(kube):
    kube.deny("patch", "deployments/scale", namespace="shop")
    assert get_kube().get(SCALE)["spec"]["replicas"] == 3  # get is still allowed
    with pytest.raises(PermissionMissing, match="lacks patch on deployments/scale in namespace shop"):
        get_kube().patch(SCALE, {"spec": {"replicas": 4}})
    assert kube.state.replicas("shop", "checkout") == 3


def test_conflict_on_stale_resource_version(kube):
    client = get_kube()
    scale = client.get(SCALE)
    client.patch(SCALE, {"spec": {"replicas": 4}})
    scale["spec"]["replicas"] = 5
    with pytest.raises(Conflict, match="the object has been modified") as err:
        client.put(SCALE, scale)
    assert err.value.status_code == 409 and err.value.details["kube_reason"] == "Conflict"
    assert kube.state.replicas("shop", "checkout") == 4
    fresh = client.get(SCALE)
    fresh["spec"]["replicas"] = 5
    assert client.put(SCALE, fresh)["spec"]["replicas"] == 5


def test_json_patch_test_op_guards_concurrent_writes(kube):
    client = get_kube()
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 4},
    ]
    assert client.patch(SCALE, ops, patch_type="json")["spec"]["replicas"] == 4
    with pytest.raises(InvalidInput, match="test operation"):
        client.patch(SCALE, ops, patch_type="json")
    assert kube.state.replicas("shop", "checkout") == 4


def test_invalid_replicas_is_invalid_input(kube):
    with pytest.raises(InvalidInput, match="must be greater than or equal to 0") as err:
        get_kube().patch(SCALE, {"spec": {"replicas": -1}})
    assert err.value.details["status"] == 422


def test_server_error_after_retries(kube):
    fault = kube.inject("GET", "/deployments/checkout$", status=500, times=None)
    with pytest.raises(UpstreamUnavailable, match="HTTP 500") as err:
        get_kube().get(DEPLOY)
    assert err.value.retryable and fault.hits == 1  # 500 is not retried, only 503/429/connection errors


def test_get_retries_503_then_succeeds(kube):
    fault = kube.inject("GET", "/deployments/checkout$", status=503, times=2)
    assert get_kube().get(DEPLOY)["kind"] == "Deployment"
    assert fault.hits == 2 and len(kube.requests_matching("GET", "/deployments/checkout$")) == 3


def test_get_retries_are_bounded(kube):
    fault = kube.inject("GET", "/deployments/checkout$", status=503, times=None)
    with pytest.raises(UpstreamUnavailable):
        get_kube().get(DEPLOY)
    assert fault.hits == 3  # 1 + OPSAGENT_K8S_GET_RETRIES (default 2)


def test_patch_is_never_retried(kube):
    fault = kube.inject("PATCH", "/scale$", status=503, times=None)
    with pytest.raises(UpstreamUnavailable):
        get_kube().patch(SCALE, {"spec": {"replicas": 4}})
    assert fault.hits == 1
    assert kube.state.replicas("shop", "checkout") == 3


def test_dropped_connection_is_retried_for_get(kube):
    fault = kube.inject("GET", "/deployments/checkout$", status=0, times=1)
    assert get_kube().get(DEPLOY)["metadata"]["name"] == "checkout"
    assert fault.hits == 1


def test_dropped_connection_on_patch_is_unavailable(kube):
    kube.inject("PATCH", "/scale$", status=0, times=1)
    with pytest.raises(UpstreamUnavailable):
        get_kube().patch(SCALE, {"spec": {"replicas": 4}})


def test_read_timeout(kube, monkeypatch):
    monkeypatch.setenv("OPSAGENT_K8S_READ_TIMEOUT", "0.3")
    reset_kube()
    fault = kube.inject("GET", "/deployments/checkout$", status=None, delay=1.5, times=None)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="did not answer GET .* within 0.3 s") as err:
        get_kube().get(DEPLOY)
    assert time.monotonic() - started < 1.4  # not retried: one timeout only
    assert err.value.retryable and err.value.status_code == 504 and fault.hits == 1


def test_connection_refused(monkeypatch):
    monkeypatch.setenv("OPSAGENT_K8S_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OPSAGENT_K8S_GET_RETRIES", "0")
    reset_kube()
    with pytest.raises(UpstreamUnavailable, match="cannot connect to the Kubernetes API"):
        get_kube().get(DEPLOY)
    reset_kube()


def test_apiserver_timeout_status_and_throttling(kube):
    kube.inject("GET", "/deployments/checkout$", status=504, times=1)
    with pytest.raises(UpstreamTimeout):
        get_kube().get(DEPLOY)
    kube.inject("GET", "/deployments/checkout$", status=429, times=None)
    with pytest.raises(UpstreamUnavailable, match="throttling"):
        get_kube().get(DEPLOY)


def test_expired_continue_token(kube_factory):
    kube = kube_factory(LOAD)
    it = get_kube().list("/api/v1/namespaces/load/pods", page_size=500)
    for _ in range(500):
        next(it)
    kube.expire_continue_tokens()
    with pytest.raises(UpstreamUnavailable, match="410 Gone") as err:
        next(it)
    assert err.value.retryable


def test_unauthorized_static_token(kube_factory, monkeypatch):
    kube = kube_factory("cpu-saturation", token="right-token")
    monkeypatch.setenv("OPSAGENT_K8S_TOKEN", "wrong-token")
    reset_kube()
    with pytest.raises(PermissionMissing, match="401 Unauthorized"):
        get_kube().get(DEPLOY)
    assert len(kube.requests) == 1  # a static token is not "refreshed"
    monkeypatch.setenv("OPSAGENT_K8S_TOKEN", "right-token")
    reset_kube()
    assert get_kube().get(DEPLOY)["kind"] == "Deployment"


def test_missing_token_is_unauthorized(kube_factory, monkeypatch):
    kube_factory(None, token="right-token")
    monkeypatch.delenv("OPSAGENT_K8S_TOKEN")
    reset_kube()
    with pytest.raises(PermissionMissing):
        get_kube().get("/api/v1/namespaces")


def test_malformed_paths_are_refused_before_any_request(kube):
    for path in ["/api/v1/namespaces/shop/../kube-system/secrets", "api/v1", "/api/v1?x=1", "/a b", "/a//b"]:
        with pytest.raises(InvalidInput):
            get_kube().get(path)
    assert kube.requests == []


def test_token_never_logged(kube_factory, monkeypatch, caplog):
    kube_factory("cpu-saturation", token="super-secret-token-value")
    caplog.set_level(logging.DEBUG, logger="opsagent.k8s")
    client = get_kube()
    client.get(DEPLOY)
    with pytest.raises(NotFound):
        client.get("/apis/apps/v1/namespaces/shop/deployments/ghost")
    assert caplog.records, "the client logs its requests at debug level"
    assert "super-secret-token-value" not in caplog.text
    assert "super-secret-token-value" not in repr(client)


def test_client_is_cached_per_container(kube):
    assert get_kube() is get_kube()
    first = get_kube()
    reset_kube()
    assert get_kube() is not first


# ---- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["http://10.0.0.5:6443", "http://api.example.com", "http://169.254.169.254", "http://[fe80::1]"],
)
def test_plain_http_only_for_loopback(endpoint):
    with pytest.raises(ConfigurationError, match="only loopback addresses"):
        build_kube({"OPSAGENT_K8S_ENDPOINT": endpoint})


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8080", "http://127.5.6.7", "http://localhost:1", "http://[::1]:8"]
)
def test_loopback_http_is_allowed(endpoint):
    assert build_kube({"OPSAGENT_K8S_ENDPOINT": endpoint}).endpoint == endpoint


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"OPSAGENT_K8S_ENDPOINT": "ftp://127.0.0.1"}, "must be an http"),
        ({"OPSAGENT_K8S_ENDPOINT": "https://user:pw@k8s.example.com"}, "must not carry credentials"),
        (
            {"OPSAGENT_K8S_ENDPOINT": "https://k8s.example.com", "OPSAGENT_K8S_CA_FILE": "/nope.pem"},
            "does not exist",
        ),
        ({"OPSAGENT_K8S_ENDPOINT": "http://127.0.0.1", "OPSAGENT_K8S_CA_FILE": __file__}, "is not https"),
        ({"OPSAGENT_K8S_ENDPOINT": "http://127.0.0.1", "OPSAGENT_K8S_READ_TIMEOUT": "-1"}, "READ_TIMEOUT"),
        ({"OPSAGENT_CLUSTER_NAME": "bad name!"}, "OPSAGENT_CLUSTER_NAME"),
        ({}, "no Kubernetes cluster configured"),
    ],
)
def test_bad_configuration(env, match):
    with pytest.raises(ConfigurationError, match=match):
        build_kube(env)


def test_https_with_the_cluster_ca(kube_factory):
    kube = kube_factory("cpu-saturation", tls=True)
    assert kube.url.startswith("https://127.0.0.1:")
    assert get_kube().get(DEPLOY)["metadata"]["name"] == "checkout"
    assert kube.requests[-1].path == DEPLOY


def test_https_with_the_wrong_ca_is_refused(kube_factory, monkeypatch, tmp_path):
    from opsagent_sim.k8s.tls import make_tls_files

    kube = kube_factory("cpu-saturation", tls=True)
    monkeypatch.setenv("OPSAGENT_K8S_CA_FILE", make_tls_files(str(tmp_path)).ca_file)  # another CA
    reset_kube()
    with pytest.raises(ConfigurationError, match="TLS verification"):
        get_kube().get(DEPLOY)
    assert kube.requests == []


def test_https_without_ca_uses_system_trust_and_refuses_the_emulator(kube_factory, monkeypatch):
    kube_factory("cpu-saturation", tls=True)
    monkeypatch.delenv("OPSAGENT_K8S_CA_FILE")
    reset_kube()
    with pytest.raises(ConfigurationError, match="TLS verification"):
        get_kube().get(DEPLOY)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/namespaces/shop/pods", ("list", "pods", "", "shop", None)),
        ("GET", "/api/v1/namespaces/shop/pods/p1", ("get", "pods", "", "shop", "p1")),
        ("GET", "/api/v1/namespaces/shop/pods/p1/log", ("get", "pods/log", "", "shop", "p1")),
        ("PATCH", SCALE, ("patch", "deployments/scale", "apps", "shop", "checkout")),
        ("PUT", SCALE, ("update", "deployments/scale", "apps", "shop", "checkout")),
        ("GET", "/api/v1/pods", ("list", "pods", "", None, None)),
        ("GET", "/api/v1/namespaces/shop", ("get", "namespaces", "", None, "shop")),
        (
            "GET",
            "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
            ("list", "horizontalpodautoscalers", "autoscaling", "shop", None),
        ),
    ],
)
def test_describe_path(method, path, expected):
    d = describe_path(method, path)
    assert (d["verb"], d["resource"], d["group"], d["namespace"], d["name"]) == expected


def test_forbidden_uses_the_kubernetes_status_body(kube):
    from opsagent_sim.k8s import status_object

    msg = (
        'deployments.apps "checkout" is forbidden: User "arn:aws:sts::1:assumed-role/r/s" '
        'cannot update resource "deployments/scale" in API group "apps" in the namespace "shop": '
        'requires one of ["deployments-editor"]'
    )
    kube.inject("PATCH", "/scale$", status=403, body=status_object(403, msg))
    with pytest.raises(PermissionMissing) as err:
        get_kube().patch(SCALE, {"spec": {"replicas": 4}})
    assert err.value.message.startswith(
        "the function's role lacks update on deployments/scale in namespace shop"
    )
    assert err.value.details["verb"] == "update" and err.value.details["hint"].startswith("grant it")
    body = err.value.to_body()
    assert body["error"] == "permission_missing" and body["retryable"] is False


def test_forbidden_without_a_status_body_falls_back_to_the_path(kube):
    kube.inject("GET", "/pods$", status=403, body="<html>denied by proxy</html>")
    with pytest.raises(PermissionMissing, match="lacks list on pods in namespace shop"):
        list(get_kube().list(PODS))


def test_error_messages_are_bounded(kube):
    kube.inject("GET", "/deployments/checkout$", status=500, message="x" * 50_000)
    with pytest.raises(UpstreamUnavailable) as err:
        get_kube().get(DEPLOY)
    assert len(err.value.message) < 500
