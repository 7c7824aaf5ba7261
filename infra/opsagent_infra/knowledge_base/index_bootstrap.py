"""Part 3: the index bootstrap: a small Lambda invoked during apply that creates the vector index."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdktn import AssetType, TerraformAsset
from cdktn_aws.cloudwatch_logs import AwsGroup as AwsLogGroup
from cdktn_aws.lambda_ import AwsFunction, AwsInvocation
from constructs import Construct

from opsagent_infra.constructs.function import logs_and_traces
from opsagent_infra.iam import RoleSpec, ServiceRole, Statement, checkov_skip
from opsagent_infra.knowledge_base.common import (
    _CHECKOV_FUNCTION_SKIPS,
    EMBEDDING_DIMENSION,
    INDEX_ARCHITECTURE,
    INDEX_HANDLER,
    INDEX_RUNTIME,
    zip_base64sha256,
)
from opsagent_infra.knowledge_base.vector_store import VectorStore


class IndexBootstrap:
    """``opsagent.vector_index.handler.lambda_handler`` with its own log group and role (logs, X-Ray,
    ``aoss:APIAccessAll`` on the collection, decrypt; ENIs in private mode), and
    :meth:`create_index`: the ``aws_lambda_invocation`` that PUTs the faiss/HNSW index after the
    collection and all three policies exist (re-run when the definition or the collection changes).
    Resources are created in ``scope``."""

    def __init__(
        self,
        scope: Construct,
        *,
        name_prefix: str,
        kms_key_arn: str,
        zip_path: Path,
        log_retention_days: int,
        collection_arn: str,
        private_network: bool,
        index_function_subnet_ids: Sequence[str],
        index_function_security_group_ids: Sequence[str],
        partition: str,
        region: str,
        account_id: str,
        tags: Mapping[str, str],
    ) -> None:
        # --- roles ------------------------------------------------------------------------------------
        self.log_group = AwsLogGroup(
            scope,
            "index-logs",
            name=f"/aws/lambda/{name_prefix}-kb-index",
            retention_in_days=log_retention_days,
            kms_key_id=kms_key_arn,
            tags=tags,
        )
        self.index_role = ServiceRole(
            scope,
            "index-role",
            RoleSpec(
                name=f"{name_prefix}-kb-index"[:64],
                service="lambda.amazonaws.com",
                description="OpsAgent knowledge base: create the vector index during apply",
                statements=[
                    *logs_and_traces(self.log_group.arn),  # as every OpsAgentFunction's role
                    Statement(
                        sid="UseVectorCollection", actions=("aoss:APIAccessAll",), resources=(collection_arn,)
                    ),
                    Statement(sid="UseStackKey", actions=("kms:Decrypt",), resources=(kms_key_arn,)),
                    *(
                        [
                            Statement(
                                sid="VpcNetworkInterfaces",
                                actions=(
                                    "ec2:CreateNetworkInterface",
                                    "ec2:DeleteNetworkInterface",
                                    "ec2:AssignPrivateIpAddresses",
                                    "ec2:UnassignPrivateIpAddresses",
                                ),
                                resources=(
                                    f"arn:{partition}:ec2:{region}:{account_id}:network-interface/*",
                                    f"arn:{partition}:ec2:{region}:{account_id}:subnet/*",
                                    f"arn:{partition}:ec2:{region}:{account_id}:security-group/*",
                                ),
                            ),
                            # Lambda validates a VPC function with these two reads, which have no
                            # resource-level permissions: they only work on "*" (read-only)
                            Statement(
                                sid="VpcDescribeReads",
                                actions=("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"),
                                resources=("*",),
                            ),
                        ]
                        if private_network
                        else []
                    ),
                ],
            ),
        )
        # --- 3. index bootstrap --------------------------------------------------------------------
        code = TerraformAsset(scope, "index-code", path=str(zip_path), type=AssetType.FILE)
        self.index_function = AwsFunction(
            scope,
            "index-function",
            function_name=f"{name_prefix}-kb-index",
            description="OpsAgent: create the knowledge base vector index in OpenSearch Serverless",
            role=self.index_role.arn,
            handler=INDEX_HANDLER,
            runtime=INDEX_RUNTIME,
            architectures=[INDEX_ARCHITECTURE],
            filename=code.path,
            source_code_hash=zip_base64sha256(zip_path),
            memory_size=256,
            timeout=600,
            tracing_config=AwsFunction.TracingConfigProperty(mode="Active"),
            environment=AwsFunction.EnvironmentProperty(variables={"POWERTOOLS_LOG_LEVEL": "INFO"}),
            kms_key_arn=kms_key_arn,
            vpc_config=AwsFunction.VpcConfigProperty(
                subnet_ids=list(index_function_subnet_ids),
                security_group_ids=list(index_function_security_group_ids),
            )
            if private_network
            else None,
            tags=tags,
            depends_on=[self.log_group, self.index_role.policy],
        )
        for check_id, reason in _CHECKOV_FUNCTION_SKIPS.items():
            checkov_skip(self.index_function, check_id, reason)
        if not private_network:
            checkov_skip(
                self.index_function,
                "CKV_AWS_117",
                "Public collection endpoint: the function only calls the OpenSearch Serverless API over TLS "
                "with SigV4; private_network=True puts it in the VPC",
            )

    def create_index(
        self, scope: Construct, *, store: VectorStore, index_name: str, region: str
    ) -> AwsInvocation:
        from opsagent.vector_index.mapping import definition_hash, index_body

        self.index_definition = index_body(EMBEDDING_DIMENSION)
        self.index_definition_hash = definition_hash(index_name, self.index_definition)
        self.index_invocation = AwsInvocation(
            scope,
            "create-index",
            function_name=self.index_function.function_name,
            input=json.dumps(
                {
                    "endpoint": store.collection.collection_endpoint,
                    "index_name": index_name,
                    "index": self.index_definition,
                    "region": region,
                    "max_attempts": 12,
                    "settle_seconds": 20,
                }
            ),
            triggers={"index_definition": self.index_definition_hash, "collection_id": store.collection.id},
            depends_on=[
                store.collection,
                store.access_policy,
                store.network_policy,
                store.encryption_policy,
                self.index_function,
            ],
        )

        return self.index_invocation
