"""Kubernetes RBAC for the scaling function's access entry (group ``opsagent-scaler``).

Rendered from the environment so it cannot drift from the configuration:

* ``opsagent-scaler-read`` in every ``eks.allowed_namespaces``: get/list Deployments, HPAs and
  Events (what getDeployment and the policy checks read);
* ``opsagent-scaler`` only in ``scaling_policy.allowed_namespaces``: get/patch
  ``deployments/scale``. RBAC therefore refuses a scale outside the policy's namespaces even if
  the policy code were wrong (defense in depth).

No rule mentions Secrets, pods/exec or any verb beyond get/list/patch.
Apply: ``kubectl apply -f infra/k8s/opsagent-scaler-rbac.yaml`` (as a cluster admin), or the
per-environment file synth writes to ``cdktf.out/stacks/opsagent-<env>/k8s/``.
"""

from __future__ import annotations

import yaml

from opsagent_infra.config import OpsAgentConfig
from opsagent_infra.naming import SCALER_GROUP

READ_RULES = [
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["get", "list"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["get", "list"]},
]
SCALE_RULES = [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}]
LABELS = {"app.kubernetes.io/name": "opsagent", "app.kubernetes.io/component": "scaler"}


def _role_and_binding(name: str, namespace: str, rules: list[dict]) -> list[dict]:
    meta = {"name": name, "namespace": namespace, "labels": LABELS}
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": SCALER_GROUP}],
        },
    ]


def scaler_rbac(read_namespaces: list[str], scale_namespaces: list[str]) -> list[dict]:
    docs = []
    for ns in read_namespaces:
        docs += _role_and_binding("opsagent-scaler-read", ns, READ_RULES)
    for ns in scale_namespaces:
        docs += _role_and_binding("opsagent-scaler", ns, SCALE_RULES)
    return docs


def render(config: OpsAgentConfig) -> str:
    docs = scaler_rbac(config.eks.allowed_namespaces, config.scaling_policy.get("allowed_namespaces", []))
    header = (
        f"# OpsAgent scaler RBAC for environment {config.env!r} (cluster {config.eks.cluster_name}).\n"
        "# Generated from infra/environments/<env>.yaml by infra/opsagent_infra/rbac.py - do not edit.\n"
        "# Apply as a cluster admin: kubectl apply -f <this file>\n"
    )
    return header + yaml.safe_dump_all(docs, sort_keys=False)
