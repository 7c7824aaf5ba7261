"""End to end over real HTTP: production client (opsagent.k8s.get_kube) against the emulator."""

from __future__ import annotations

import pytest

from opsagent.errors import Conflict, NotFound, PermissionMissing
from opsagent.k8s import get_kube


def test_pods_deployment_scale_and_logs(kube):
    client = get_kube()
    pods = list(client.list("/api/v1/namespaces/shop/pods", {"labelSelector": "app=checkout"}))
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert pods[0]["metadata"]["labels"]["pod-template-hash"]

    dep = client.get("/apis/apps/v1/namespaces/shop/deployments/checkout")
    assert dep["kind"] == "Deployment" and dep["spec"]["replicas"] == 3
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "7"

    scale = client.get("/apis/apps/v1/namespaces/shop/deployments/checkout/scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    out = client.patch("/apis/apps/v1/namespaces/shop/deployments/checkout/scale", {"spec": {"replicas": 5}})
    assert out["spec"]["replicas"] == 5
    assert kube.state.replicas("shop", "checkout") == 5
    assert client.get("/apis/apps/v1/namespaces/shop/deployments/checkout")["status"]["readyReplicas"] == 5

    stale = {"metadata": {"resourceVersion": scale["metadata"]["resourceVersion"]}, "spec": {"replicas": 6}}
    with pytest.raises(Conflict):
        client.put("/apis/apps/v1/namespaces/shop/deployments/checkout/scale", stale)
    assert kube.state.replicas("shop", "checkout") == 5

    log = client.get_text(f"/api/v1/namespaces/shop/pods/{pods[0]['metadata']['name']}/log", {"tailLines": 2})
    assert "slow request" in log and len(log.splitlines()) == 2

    with pytest.raises(NotFound):
        client.get("/apis/apps/v1/namespaces/shop/deployments/nope")

    kube.deny("patch", "deployments/scale", namespace="shop")
    with pytest.raises(PermissionMissing, match="lacks patch on deployments/scale in namespace shop"):
        client.patch("/apis/apps/v1/namespaces/shop/deployments/checkout/scale", {"spec": {"replicas": 4}})
    assert kube.requests[-1].headers["authorization"].startswith("Bearer <redacted")
