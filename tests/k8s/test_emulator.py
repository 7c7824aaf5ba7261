"""The emulator itself: scenario expansion into real Kubernetes shapes, write semantics, controls."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
import urllib3

from opsagent.errors import InvalidInput, PermissionMissing
from opsagent.k8s import get_kube
from opsagent_sim.k8s import KubeEmulator, ScenarioError, bundled_scenarios

SHOP = "/api/v1/namespaces/shop"
APPS = "/apis/apps/v1/namespaces/shop"


def raw(kube, method, path, body=None, headers=None):
    """Talk to the emulator without the production client (to check wire-level shapes)."""
    h = {"Authorization": "Bearer opsagent-emulator", **(headers or {})}
    r = urllib3.request(
        method, kube.url + path, body=json.dumps(body) if body is not None else None, headers=h
    )
    return r.status, (r.json() if r.headers.get("Content-Type") == "application/json" else r.data.decode())


def test_bundled_scenarios_load():
    assert {"cpu-saturation", "oom-crashloop", "bad-image-rollout", "large"} <= set(bundled_scenarios())
    for name in bundled_scenarios():
        emu = KubeEmulator(name)
        assert emu.state.cluster == "prod-eks"
        assert emu.state.get("namespaces", "", "shop")


def test_cpu_saturation_matches_the_sample_alarm(kube):
    dep = get_kube().get(f"{APPS}/deployments/checkout")
    assert dep["spec"]["replicas"] == 3 and dep["status"]["readyReplicas"] == 3
    assert dep["status"]["conditions"][0] == {
        **dep["status"]["conditions"][0],
        "type": "Available",
        "status": "True",
    }
    pods = kube.state.pods("shop", "checkout")
    assert all(p["status"]["phase"] == "Running" for p in pods)
    metrics = get_kube().get(
        f"/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/{pods[0]['metadata']['name']}"
    )
    assert metrics["kind"] == "PodMetrics" and metrics["containers"][0]["usage"]["cpu"] == "962000000n"
    assert pods[0]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1"
    hpas = list(get_kube().list("/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"))
    assert [h["metadata"]["name"] for h in hpas] == [
        "frontend"
    ]  # checkout has no HPA fighting a manual scale
    assert hpas[0]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


@pytest.mark.parametrize("kube_scenario", ["oom-crashloop"])
def test_oom_crashloop_pod_shapes(kube):
    pods = kube.state.pods("shop", "cart")
    crashing = [p for p in pods if p["status"]["containerStatuses"][0]["state"].get("waiting")]
    assert len(crashing) == 2
    cs = crashing[0]["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["restartCount"] == 14 and cs["ready"] is False
    assert crashing[0]["status"]["phase"] == "Running"
    ready = {c["type"]: c["status"] for c in crashing[0]["status"]["conditions"]}
    assert ready["Ready"] == "False" and ready["PodScheduled"] == "True"
    events = list(
        get_kube().list(
            f"{SHOP}/events",
            {"fieldSelector": f"involvedObject.name={crashing[0]['metadata']['name']},type=Warning"},
        )
    )
    assert {"BackOff", "OOMKilling"} <= {e["reason"] for e in events}
    dep = get_kube().get(f"{APPS}/deployments/cart")
    assert dep["status"]["readyReplicas"] == 1 and dep["status"]["unavailableReplicas"] == 2
    assert dep["status"]["conditions"][0]["status"] == "False"  # Available=False


@pytest.mark.parametrize("kube_scenario", ["bad-image-rollout"])
def test_bad_image_rollout_shapes(kube):
    client = get_kube()
    rss = list(client.list(f"{APPS}/replicasets", {"labelSelector": "app=catalog"}))
    revisions = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in rss}
    assert set(revisions) == {"11", "12"}
    assert revisions["11"]["status"]["readyReplicas"] == 3 and revisions["12"]["status"]["readyReplicas"] == 0
    new_hash = revisions["12"]["metadata"]["labels"]["pod-template-hash"]
    new_pods = list(
        client.list(f"{SHOP}/pods", {"labelSelector": f"app=catalog,pod-template-hash={new_hash}"})
    )
    assert len(new_pods) == 2
    waiting = new_pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff" and "2.3.1-rc1" in waiting["message"]
    assert new_pods[0]["status"]["phase"] == "Pending"
    assert new_pods[0]["metadata"]["ownerReferences"][0]["name"] == revisions["12"]["metadata"]["name"]
    dep = client.get(f"{APPS}/deployments/catalog")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "12"
    progressing = dep["status"]["conditions"][1]
    assert progressing["reason"] == "ProgressDeadlineExceeded" and progressing["status"] == "False"
    assert dep["status"]["updatedReplicas"] == 2 and dep["status"]["readyReplicas"] == 3


def test_large_scenario_is_deterministic_and_has_problems():
    a, b = KubeEmulator("large"), KubeEmulator("large")
    pods = a.state.list("pods", "shop")
    assert len(pods) == 5000
    assert [p["metadata"]["name"] for p in pods] == [
        p["metadata"]["name"] for p in b.state.list("pods", "shop")
    ]
    phases = [p["status"]["phase"] for p in pods]
    problems = [p for p in pods if not any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in p["status"]["conditions"])]  # fmt: skip
    assert 40 <= len(problems) <= 200 and "Pending" in phases and "Failed" in phases


def test_pending_unschedulable_pod():
    emu = KubeEmulator(
        {
            "namespace": "shop",
            "deployments": [
                {
                    "name": "big",
                    "replicas": 1,
                    "pods": [
                        {"state": "pending", "reason": "0/3 nodes are available: 3 Insufficient memory."}
                    ],
                }
            ],
        }  # fmt: skip
    )
    pod = emu.state.pods("shop", "big")[0]
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    cond = pod["status"]["conditions"][0]
    assert cond == {**cond, "type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
    assert "Insufficient memory" in cond["message"]
    assert emu.state.events_for("shop", pod["metadata"]["name"])[0]["reason"] == "FailedScheduling"


def test_evicted_and_standalone_pods():
    emu = KubeEmulator(
        {
            "namespace": "shop",
            "deployments": [{"name": "web", "replicas": 1}],
            "pods": [{"deployment": "web", "state": "evicted"}, {"name": "debug", "state": "running"}],
        }  # fmt: skip
    )
    evicted = next(p for p in emu.state.pods("shop", "web") if p["status"]["phase"] == "Failed")
    assert evicted["status"]["reason"] == "Evicted"
    assert emu.state.get("pods", "shop", "debug")["metadata"].get("ownerReferences") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"deployments": [{"replicas": 1}]},
        {"deployments": [{"name": "a", "pods": [{"state": "exploded"}]}]},
        {"events": [{"object": "pod/ghost", "reason": "X"}]},
        {"unknown_key": 1},
        "no-such-scenario",
    ],
)
def test_scenario_errors(bad):
    with pytest.raises(ScenarioError):
        KubeEmulator(bad)


def test_scale_up_and_down_reconciles_pods_and_events(kube):
    client = get_kube()
    before_rv = kube.state.deployment("shop", "checkout")["metadata"]["resourceVersion"]
    gen = kube.state.deployment("shop", "checkout")["metadata"]["generation"]
    client.patch(f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 6}})
    dep = client.get(f"{APPS}/deployments/checkout")
    assert dep["metadata"]["resourceVersion"] != before_rv and dep["metadata"]["generation"] == gen + 1
    assert dep["status"]["observedGeneration"] == gen + 1
    assert (
        dep["status"]["replicas"] == dep["status"]["readyReplicas"] == dep["status"]["availableReplicas"] == 6
    )
    assert len(list(client.list(f"{SHOP}/pods", {"labelSelector": "app=checkout"}))) == 6
    client.put(f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 2}})
    assert len(kube.state.pods("shop", "checkout")) == 2
    assert kube.state.scale_history == [
        {"namespace": "shop", "name": "checkout", "from": 3, "to": 6},
        {"namespace": "shop", "name": "checkout", "from": 6, "to": 2},
    ]
    msgs = [
        e["message"] for e in kube.state.events_for("shop", "checkout") if e["reason"] == "ScalingReplicaSet"
    ]
    assert any("from 3 to 6" in m for m in msgs) and any("from 6 to 2" in m for m in msgs)


def test_noop_scale_keeps_resource_version(kube):
    rv = kube.state.deployment("shop", "checkout")["metadata"]["resourceVersion"]
    get_kube().patch(f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 3}})
    assert kube.state.deployment("shop", "checkout")["metadata"]["resourceVersion"] == rv


def test_patch_deployment_replicas_and_labels(kube):
    client = get_kube()
    out = client.patch(
        f"{APPS}/deployments/checkout", {"metadata": {"labels": {"opsagent.io/scaling": "disabled"}}}
    )
    assert out["metadata"]["labels"]["opsagent.io/scaling"] == "disabled"
    out = client.patch(f"{APPS}/deployments/checkout", {"spec": {"replicas": 4}}, patch_type="strategic")
    assert out["spec"]["replicas"] == 4 and kube.state.replicas("shop", "checkout") == 4
    with pytest.raises(InvalidInput, match="must be an integer"):
        client.patch(f"{APPS}/deployments/checkout", {"spec": {"replicas": "many"}})


def test_scale_wire_shapes(kube):
    status, scale = raw(kube, "GET", f"{APPS}/deployments/checkout/scale")
    assert status == 200
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["status"] == {"replicas": 3, "selector": "app=checkout"}
    status, err = raw(kube, "PATCH", f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 4}},
                      {"Content-Type": "application/json"})  # fmt: skip
    assert status == 415 and err["kind"] == "Status" and err["reason"] == "UnsupportedMediaType"
    status, err = raw(kube, "DELETE", f"{APPS}/deployments/checkout")
    assert status == 405
    status, err = raw(kube, "GET", "/apis/apps/v1/namespaces/shop/statefulsets")
    assert status == 404 and err["kind"] == "Status"
    status, ver = raw(kube, "GET", "/version")
    assert status == 200 and ver["major"] == "1"


def test_status_object_shapes(kube):
    kube.deny("get", "deployments", namespace="shop", name="checkout")
    status, body = raw(kube, "GET", f"{APPS}/deployments/checkout")
    assert status == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
        "code": 403,
        "message": 'deployments.apps "checkout" is forbidden: User "arn:aws:sts::123456789012:assumed-role/'
                   'opsagent-lambda/opsagent" cannot get resource "deployments" in API group "apps" in the '
                   'namespace "shop"',
        "details": {"name": "checkout", "group": "apps", "kind": "deployments"},
    }  # fmt: skip
    status, body = raw(kube, "GET", f"{SHOP}/pods/ghost")
    assert status == 404 and body["message"] == 'pods "ghost" not found' and body["reason"] == "NotFound"


def test_rbac_allow_list_from_scenario(kube_factory):
    kube_factory({"namespace": "shop", "deployments": [{"name": "web"}],
                  "rbac": {"allow": [{"verb": ["get", "list"], "resource": "*",
                                      "namespace": "shop"}]}})  # fmt: skip
    client = get_kube()
    assert client.get(f"{APPS}/deployments/web/scale")["spec"]["replicas"] == 1
    with pytest.raises(PermissionMissing, match="lacks patch on deployments/scale in namespace shop"):
        client.patch(f"{APPS}/deployments/web/scale", {"spec": {"replicas": 2}})
    with pytest.raises(PermissionMissing, match="lacks list on pods at cluster scope"):
        list(client.list("/api/v1/pods"))


def test_faults_from_scenario(kube_factory):
    kube = kube_factory(
        {"namespace": "shop", "faults": [{"method": "GET", "path": "/pods$", "status": 500, "times": 1}]}
    )
    from opsagent.errors import UpstreamUnavailable

    with pytest.raises(UpstreamUnavailable, match="injected fault"):
        list(get_kube().list(f"{SHOP}/pods"))
    assert list(get_kube().list(f"{SHOP}/pods")) == []
    assert [r.status for r in kube.requests] == [500, 200] and kube.requests[0].fault


def test_bad_continue_token_and_limit(kube):
    status, body = raw(kube, "GET", f"{SHOP}/pods?limit=1&continue=garbage")
    assert status == 400 and "continue key is not valid" in body["message"]
    status, body = raw(kube, "GET", f"{SHOP}/pods?limit=x")
    assert status == 400


def test_label_selector_grammar_on_the_server(kube):
    for sel, expected in [("app in (checkout,cart)", 5), ("!app", 0), ("app,app!=frontend", 5), ("tier", 0)]:
        status, body = raw(kube, "GET", f"{SHOP}/pods?labelSelector={quote(sel)}")
        assert status == 200, body
        assert len(body["items"]) == expected, sel
    status, body = raw(kube, "GET", f"{SHOP}/pods?labelSelector=app%3D%3D%3Dx")
    assert status == 400


def test_log_container_choice():
    emu = KubeEmulator({"namespace": "shop", "deployments": [
        {"name": "web", "containers": [{"name": "app"}, {"name": "envoy"}],
         "pods": [{"state": "running",
                   "logs": {"app": "hello from app\n", "envoy": "[envoy] up\n"}}]}]})  # fmt: skip
    with emu:
        pod = emu.state.pods("shop", "web")[0]["metadata"]["name"]
        status, body = raw(emu, "GET", f"{SHOP}/pods/{pod}/log")
        assert status == 400 and "choose one of: [app envoy]" in body["message"]
        status, text = raw(emu, "GET", f"{SHOP}/pods/{pod}/log?container=envoy")
        assert status == 200 and text == "[envoy] up\n"
        status, body = raw(emu, "GET", f"{SHOP}/pods/{pod}/log?container=nope")
        assert status == 400
        status, text = raw(emu, "GET", f"{SHOP}/pods/{pod}/log?container=app&limitBytes=5")
        assert text == "hello"


def test_request_log_redacts_secrets(kube):
    get_kube().get(f"{APPS}/deployments/checkout")
    req = kube.requests[-1]
    assert req.method == "GET" and req.path == f"{APPS}/deployments/checkout" and req.status == 200
    assert "opsagent-emulator" not in json.dumps(req.headers)
    assert req.headers["user-agent"].startswith("opsagent/")


@pytest.mark.parametrize("kube_scenario", ["scaling-forbidden"])
def test_scaling_forbidden_scenario(kube):
    client = get_kube()
    dep = client.get(f"{APPS}/deployments/payments")
    assert dep["metadata"]["labels"]["opsagent.io/scaling"] == "disabled"
    assert client.get(f"{APPS}/deployments/checkout/scale")["spec"]["replicas"] == 3
    with pytest.raises(PermissionMissing, match="lacks patch on deployments/scale in namespace shop"):
        client.patch(f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 5}})
    with pytest.raises(PermissionMissing, match="lacks update on deployments/scale"):
        client.put(f"{APPS}/deployments/checkout/scale", {"spec": {"replicas": 5}})
    assert kube.state.scale_history == [] and kube.state.replicas("shop", "checkout") == 3


@pytest.mark.parametrize("kube_scenario", ["unschedulable"])
def test_unschedulable_scenario_scale_up_adds_pending_pods(kube):
    client = get_kube()
    pending = list(
        client.list(f"{SHOP}/pods", {"fieldSelector": "status.phase=Pending", "labelSelector": "app=search"})
    )
    assert len(pending) == 2
    client.patch(f"{APPS}/deployments/search/scale", {"spec": {"replicas": 8}})
    pending = list(
        client.list(f"{SHOP}/pods", {"fieldSelector": "status.phase=Pending", "labelSelector": "app=search"})
    )
    assert len(pending) == 4
    dep = client.get(f"{APPS}/deployments/search")
    assert dep["status"]["readyReplicas"] == 4 and dep["status"]["unavailableReplicas"] == 4


def test_tls_emulator_deletes_its_key_and_ca_on_stop():
    kube = KubeEmulator("cpu-saturation", tls=True).start()
    ca_dir = os.path.dirname(kube.ca_file)
    assert sorted(os.listdir(ca_dir)) == ["ca.pem", "server-key.pem", "server.pem"]
    kube.stop()
    assert not os.path.exists(ca_dir)
