"""The scaler's Kubernetes RBAC: narrow verbs, never Secrets, scale only where the policy allows."""

from __future__ import annotations

import yaml

from opsagent_infra.config import load_config
from opsagent_infra.rbac import render


def test_scaler_rbac_is_narrow():
    cfg = load_config("dev")
    docs = list(yaml.safe_load_all(render(cfg)))
    roles = [d for d in docs if d["kind"] == "Role"]
    assert {d["kind"] for d in docs} == {"Role", "RoleBinding"}
    for role in roles:
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
            assert set(rule["verbs"]) <= {"get", "list", "patch"}
            assert "patch" not in rule["verbs"] or rule["resources"] == ["deployments/scale"]
    scale_ns = sorted(r["metadata"]["namespace"] for r in roles if r["metadata"]["name"] == "opsagent-scaler")
    assert scale_ns == sorted(cfg.scaling_policy["allowed_namespaces"])
    read_ns = sorted(
        r["metadata"]["namespace"] for r in roles if r["metadata"]["name"] == "opsagent-scaler-read"
    )
    assert read_ns == sorted(cfg.eks.allowed_namespaces)
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        assert binding["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "opsagent-scaler"}
        ]
