"""EKS access entries for the function roles (the cluster's authentication mode must be ``API`` or
``API_AND_CONFIG_MAP``; with ``CONFIG_MAP`` only, access entries cannot be created).

* readers (pods, trigger): ``AmazonEKSViewPolicy`` scoped to the allowed namespaces. The policy
  mirrors Kubernetes' ``view`` role: pods, pods/log, events, deployments, HPAs ... and **no Secrets**.
* scaler: no AWS-managed policy at all; the access entry maps the role to the Kubernetes group
  ``opsagent-scaler``, which ``infra/k8s/opsagent-scaler-rbac.yaml`` binds, per allowed namespace, to
  a Role with get/patch on ``deployments/scale`` and get/list on deployments, HPAs and events.
"""

from __future__ import annotations

from cdktn_aws.eks import AwsAccessEntry, AwsAccessPolicyAssociation
from constructs import Construct

from opsagent_infra.naming import SCALER_GROUP, Arns

VIEW_POLICY = "AmazonEKSViewPolicy"


class EksReader(Construct):
    def __init__(
        self, scope: Construct, id_: str, *, cluster: str, role_arn: str, namespaces: list[str], arns: Arns
    ):
        super().__init__(scope, id_)
        self.entry = AwsAccessEntry(
            self, "entry", cluster_name=cluster, principal_arn=role_arn, type="STANDARD"
        )
        self.association = AwsAccessPolicyAssociation(
            self,
            "view",
            cluster_name=cluster,
            principal_arn=role_arn,
            policy_arn=arns.eks_access_policy(VIEW_POLICY),
            access_scope=AwsAccessPolicyAssociation.AccessScopeProperty(
                type="namespace", namespaces=list(namespaces)
            ),
            depends_on=[self.entry],
        )


class EksScaler(Construct):
    def __init__(self, scope: Construct, id_: str, *, cluster: str, role_arn: str):
        super().__init__(scope, id_)
        self.entry = AwsAccessEntry(
            self,
            "entry",
            cluster_name=cluster,
            principal_arn=role_arn,
            type="STANDARD",
            kubernetes_groups=[SCALER_GROUP],
        )
