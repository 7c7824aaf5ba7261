"""Part 2: the OpenSearch Serverless vector store (policies, collection, data access)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cdktn_aws.opensearch_serverless import AwsAccessPolicy, AwsCollection, AwsSecurityPolicy
from constructs import Construct

from opsagent_infra.knowledge_base.common import aoss_name


class VectorStore:
    """A ``VECTORSEARCH`` collection encrypted with the stack's CMK, its network policy (public endpoint,
    or only the given VPC endpoints and Bedrock), and one data access policy (:meth:`grant_data_access`).
    Resources are created in ``scope``."""

    def __init__(
        self,
        scope: Construct,
        *,
        name_prefix: str,
        kms_key_arn: str,
        private_network: bool,
        vpc_endpoint_ids: Sequence[str],
        standby_replicas: bool,
        tags: Mapping[str, str],
    ) -> None:
        self.collection_name = collection_name = aoss_name(name_prefix, "kb")
        # --- 2. OpenSearch Serverless ----------------------------------------------------------------
        resource = f"collection/{collection_name}"
        self.encryption_policy = AwsSecurityPolicy(
            scope,
            "aoss-encryption",
            name=aoss_name(name_prefix, "kb-enc"),
            type="encryption",
            description="OpsAgent runbook vectors: encrypted with the stack's CMK",
            policy=json.dumps(
                {
                    "Rules": [{"ResourceType": "collection", "Resource": [resource]}],
                    "AWSOwnedKey": False,
                    "KmsARN": kms_key_arn,
                }
            ),
        )
        if private_network:
            network_rule: dict = {
                "AllowFromPublic": False,
                "SourceVPCEs": list(vpc_endpoint_ids),
                "SourceServices": ["bedrock.amazonaws.com"],
            }
        else:
            network_rule = {"AllowFromPublic": True}
        self.network_policy = AwsSecurityPolicy(
            scope,
            "aoss-network",
            name=aoss_name(name_prefix, "kb-net"),
            type="network",
            description="OpsAgent runbook vectors: "
            + (
                "VPC endpoints and Bedrock only"
                if private_network
                else "public endpoint (IAM + SigV4 still required)"
            ),
            policy=json.dumps(
                [{"Rules": [{"ResourceType": "collection", "Resource": [resource]}], **network_rule}]
            ),
        )
        self.collection = AwsCollection(
            scope,
            "collection",
            name=collection_name,
            type="VECTORSEARCH",
            description="OpsAgent runbooks (Bedrock knowledge base vectors)",
            standby_replicas="ENABLED" if standby_replicas else "DISABLED",
            tags=tags,
            depends_on=[self.encryption_policy, self.network_policy],
        )

    @property
    def arn(self) -> str:
        return self.collection.arn

    def grant_data_access(
        self, scope: Construct, *, name_prefix: str, kb_role_arn: str, index_role_arn: str
    ) -> AwsAccessPolicy:
        # One data access policy for both principals: once the bootstrap role's rule has propagated
        # (the Lambda retries 403 until it has), the knowledge base role's rule has too.
        self.access_policy = AwsAccessPolicy(
            scope,
            "aoss-access",
            name=aoss_name(name_prefix, "kb-data"),
            type="data",
            description="OpsAgent runbook vectors: KB role reads/writes documents, bootstrap creates index",
            policy=json.dumps(
                [
                    {
                        "Description": "Bedrock knowledge base role",
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": [f"index/{self.collection_name}/*"],
                                "Permission": [
                                    "aoss:DescribeIndex",
                                    "aoss:ReadDocument",
                                    "aoss:WriteDocument",
                                ],
                            }
                        ],
                        "Principal": [kb_role_arn],
                    },
                    {
                        "Description": "Index bootstrap Lambda role",
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": [f"index/{self.collection_name}/*"],
                                "Permission": ["aoss:CreateIndex", "aoss:DescribeIndex"],
                            }
                        ],
                        "Principal": [index_role_arn],
                    },
                ]
            ),
        )

        return self.access_policy
