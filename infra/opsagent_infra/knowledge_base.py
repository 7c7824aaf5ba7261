"""The runbook knowledge base: documents bucket, OpenSearch Serverless vector store, Bedrock KB.

``RunbookKnowledgeBase(scope, "kb", ...)`` creates, in apply order:

1. **S3 bucket** for the documents: versioning, SSE-KMS with the stack's CMK (bucket key), a
   TLS-only bucket policy, public access block, BucketOwnerEnforced ownership, a lifecycle rule
   for old versions. Every ``knowledge_base/runbooks/*.md`` and its ``.md.metadata.json`` is an
   ``aws_s3_object`` under ``runbooks/`` whose ``source_hash`` is the file's MD5 (``filemd5``), so a
   changed file re-uploads (``etag`` cannot be used with SSE-KMS); ``x-amz-meta-sha256`` lets
   ``tools/kb_sync.py`` skip unchanged files.
2. **OpenSearch Serverless** ``VECTORSEARCH`` collection with its encryption policy (the CMK), a
   network policy (public endpoint by default; ``private_network=True``: only the given VPC endpoints
   and the Bedrock service) and one data access policy for the KB role (read/write documents) and
   the index bootstrap role (create/describe the index).
3. **Index bootstrap**: a small Lambda (``opsagent.vector_index.handler.lambda_handler``) invoked by
   ``aws_lambda_invocation`` during apply, after the collection and all three policies; it PUTs the
   faiss/HNSW index (1024-dim, Titan Text Embeddings v2) and retries 403s while the access policy
   propagates. Its ``triggers`` hash the index definition and the collection id, so a changed
   definition or a replaced collection re-runs it.
4. **Bedrock knowledge base** (VECTOR, ``amazon.titan-embed-text-v2:0``, OPENSEARCH_SERVERLESS with
   the field mapping) and its **S3 data source** with hierarchical chunking (see ``CHUNKING``), and,
   when ``agent_id`` is given, the **agent association** telling the model when to search it.

The KB role trusts ``bedrock.amazonaws.com`` for this account's knowledge bases only
(``aws:SourceAccount`` + ``aws:SourceArn``) and can: read the bucket, ``aoss:APIAccessAll`` on the
collection, ``bedrock:InvokeModel`` on the embedding model, decrypt/generate data keys with the CMK.

Switching it off is the caller's ``if config.knowledge_base.enabled:`` around the construct.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from cdktn import AssetType, TerraformAsset, TerraformOutput
from cdktn_aws.bedrock_agents import AwsAgentKnowledgeBaseAssociation, AwsDataSource, AwsKnowledgeBase
from cdktn_aws.cloudwatch_logs import AwsGroup as AwsLogGroup
from cdktn_aws.lambda_ import AwsFunction, AwsInvocation
from cdktn_aws.meta_data_sources import DataAwsPartition, DataAwsRegion
from cdktn_aws.opensearch_serverless import AwsAccessPolicy, AwsCollection, AwsSecurityPolicy
from cdktn_aws.s3 import (
    AwsBucket,
    AwsBucketLifecycleConfiguration,
    AwsBucketOwnershipControls,
    AwsBucketPolicy,
    AwsBucketPublicAccessBlock,
    AwsBucketServerSideEncryptionConfiguration,
    AwsBucketVersioning,
    AwsObject,
)
from cdktn_aws.sts import DataAwsCallerIdentity
from constructs import Construct

from opsagent_infra.iam import Condition, Grant, RoleSpec, ServiceRole, Statement, checkov_skip

INDEX_HANDLER = "opsagent.vector_index.handler.lambda_handler"
INDEX_RUNTIME, INDEX_ARCHITECTURE = "python3.12", "arm64"
DOCUMENT_PREFIX = "runbooks/"
EMBEDDING_DIMENSION = 1024
# Hierarchical chunking, chosen for runbooks: a runbook is a 1-2k token document whose sections only
# make sense together (a remediation without its limits is dangerous). Small child chunks (300 tokens)
# match a query precisely ("pods OOMKilled after deploy"); retrieval then returns the parent chunk
# (1500 tokens = most or all of a runbook), so the model sees the remediation with its limits and
# escalation rules instead of a fixed-size fragment cut mid-list. 60 tokens of overlap keeps a step
# and its explanation together across child boundaries.
CHUNKING = {"parent_max_tokens": 1500, "child_max_tokens": 300, "overlap_tokens": 60}
ASSOCIATION_DESCRIPTION = (  # Bedrock allows 1-200 characters
    "Runbooks for EKS incidents: symptoms, diagnostic calls, safe fixes with limits, escalation. Search "
    "it when an alarm fires or a workload is unhealthy (CPU, OOM, crash loop, image pull, 5xx, latency)."
)
_AOSS_NAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
_CONTENT_TYPES = {".md": "text/markdown; charset=utf-8", ".json": "application/json"}
_CHECKOV_FUNCTION_SKIPS = {
    "CKV_AWS_116": "Invoked synchronously once per apply by aws_lambda_invocation; a DLQ only applies to "
    "asynchronous invocations and Terraform receives the error instead",
    "CKV_AWS_272": "No code signing: the zip is deployed from a local build pinned by source_code_hash",
}
_CHECKOV_BUCKET_SKIPS = {
    "CKV_AWS_18": "Runbook documents only (no customer data); object changes are versioned and visible in "
    "CloudTrail data events if the account enables them",
    "CKV_AWS_144": "Runbooks are rebuilt from Git; cross-region replication would add cost without value",
    "CKV2_AWS_62": "No consumer for event notifications: ingestion is started by tools/kb_sync.py",
}


def aoss_name(prefix: str, suffix: str) -> str:
    """A name OpenSearch Serverless accepts (3-32 chars, ``[a-z][a-z0-9-]+``): ``<prefix>-<suffix>``,
    with the prefix shortened and a hash of it appended when too long."""
    clean = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-") or "opsagent"
    if not clean[0].isalpha():
        clean = "k" + clean
    name = f"{clean}-{suffix}"
    if len(name) > 32:
        digest = hashlib.sha256(clean.encode()).hexdigest()[:6]
        name = f"{clean[: 32 - len(suffix) - 8].rstrip('-')}-{digest}-{suffix}"
    if not _AOSS_NAME.match(name):
        raise ValueError(f"cannot derive a valid OpenSearch Serverless name from {prefix!r}: {name!r}")
    return name


def runbook_files(path: Path) -> list[Path]:
    """The files uploaded for the knowledge base: every ``*.md`` with its ``.md.metadata.json``."""
    files = sorted(
        p for p in path.iterdir() if p.is_file() and (p.suffix == ".md" or p.name.endswith(".metadata.json"))
    )
    if not any(p.suffix == ".md" for p in files):
        raise ValueError(f"no runbooks (*.md) in {path}")
    return files


def zip_base64sha256(path: Path) -> str:
    """Terraform's ``filebase64sha256`` of the zip (what ``source_code_hash`` compares)."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


class RunbookKnowledgeBase(Construct):
    """The runbook knowledge base and everything it needs (see the module docstring).

    Attributes for wiring: ``knowledge_base_id``, ``knowledge_base_arn``, ``data_source_id``,
    ``bucket_name``, ``bucket_arn``, ``collection_arn``, ``collection_endpoint``, ``index_name``,
    ``role_arn``, ``association`` (None without ``agent_id``), ``agent_statements`` (what the agent's
    role needs: ``bedrock:Retrieve`` on this knowledge base), ``outputs`` (TerraformOutput by name).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        kms_key_arn: str,
        kms_key_id: str,
        runbooks_path: str | Path,
        index_function_zip: str | Path,
        agent_id: str | None = None,
        agent_version: str = "DRAFT",
        tags: Mapping[str, str] | None = None,
        private_network: bool = False,
        vpc_endpoint_ids: Sequence[str] = (),
        index_function_subnet_ids: Sequence[str] = (),
        index_function_security_group_ids: Sequence[str] = (),
        standby_replicas: bool = True,
        index_name: str = "opsagent-runbooks",
        log_retention_days: int = 365,
        region: str | None = None,
        account_id: str | None = None,
        partition: str | None = None,
        create_outputs: bool = True,
        association_description: str = ASSOCIATION_DESCRIPTION,
        force_destroy: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        from opsagent.vector_index.mapping import (
            EMBEDDING_MODEL_ID,
            METADATA_FIELD,
            TEXT_FIELD,
            VECTOR_FIELD,
            definition_hash,
            index_body,
        )

        if private_network and not vpc_endpoint_ids:
            raise ValueError("private_network needs vpc_endpoint_ids (OpenSearch Serverless VPC endpoints)")
        if private_network and not index_function_subnet_ids:
            raise ValueError(
                "private_network needs index_function_subnet_ids (+ security groups): the index bootstrap "
                "Lambda must reach the collection through the VPC endpoint"
            )
        if not 1 <= len(association_description) <= 200:
            raise ValueError("association_description must be 1-200 characters (Bedrock's limit)")
        runbooks_path = Path(runbooks_path).resolve()
        zip_path = Path(index_function_zip).resolve()
        if not zip_path.is_file():
            raise ValueError(f"index bootstrap zip {zip_path} not found: run `make build`")

        self.tags = dict(sorted((tags or {}).items()))
        partition = partition or DataAwsPartition(self, "partition").partition
        region = region or DataAwsRegion(self, "region").region
        account_id = account_id or DataAwsCallerIdentity(self, "caller").account_id
        self.index_name = index_name
        collection_name = aoss_name(name_prefix, "kb")
        kb_name = f"{name_prefix}-runbooks"
        embedding_model_arn = f"arn:{partition}:bedrock:{region}::foundation-model/{EMBEDDING_MODEL_ID}"
        kb_arn_pattern = f"arn:{partition}:bedrock:{region}:{account_id}:knowledge-base/*"

        # --- 1. documents bucket --------------------------------------------------------------------
        # force_destroy: versioned objects would otherwise block `terraform destroy` (dev environments)
        self.bucket = AwsBucket(
            self,
            "bucket",
            bucket_prefix=f"{name_prefix[:30]}-kb-".lower(),
            force_destroy=force_destroy,
            tags=self.tags,
        )
        for check_id, reason in _CHECKOV_BUCKET_SKIPS.items():
            checkov_skip(self.bucket, check_id, reason)
        bucket_id = self.bucket.id
        AwsBucketVersioning(
            self,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=AwsBucketVersioning.VersioningConfigurationProperty(status="Enabled"),
        )
        self.encryption = AwsBucketServerSideEncryptionConfiguration(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                AwsBucketServerSideEncryptionConfiguration.RuleProperty(
                    apply_server_side_encryption_by_default=AwsBucketServerSideEncryptionConfiguration.ApplyServerSideEncryptionByDefaultProperty(
                        sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        public_access = AwsBucketPublicAccessBlock(
            self,
            "public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        AwsBucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=AwsBucketOwnershipControls.RuleProperty(object_ownership="BucketOwnerEnforced"),
        )
        AwsBucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bucket_id,
            rule=[
                AwsBucketLifecycleConfiguration.RuleProperty(
                    id="expire-old-versions",
                    status="Enabled",
                    filter=[AwsBucketLifecycleConfiguration.FilterProperty(prefix="")],
                    noncurrent_version_expiration=[
                        AwsBucketLifecycleConfiguration.NoncurrentVersionExpirationProperty(
                            noncurrent_days=90
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        AwsBucketLifecycleConfiguration.AbortIncompleteMultipartUploadProperty(
                            days_after_initiation=7
                        )
                    ],
                )
            ],
        )
        self.bucket_policy = AwsBucketPolicy(
            self,
            "tls-only",
            bucket=bucket_id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [self.bucket.arn, f"{self.bucket.arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                        {
                            "Sid": "DenyOldTls",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [self.bucket.arn, f"{self.bucket.arn}/*"],
                            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
                        },
                    ],
                }
            ),
            depends_on=[public_access],
        )
        asset = TerraformAsset(self, "runbooks", path=str(runbooks_path), type=AssetType.DIRECTORY)
        self.objects: dict[str, AwsObject] = {}
        for index, path in enumerate(runbook_files(runbooks_path)):
            data = path.read_bytes()
            key = DOCUMENT_PREFIX + path.name
            self.objects[key] = AwsObject(
                self,
                f"doc-{index}-{re.sub(r'[^A-Za-z0-9]+', '-', path.name)}"[:200],
                bucket=bucket_id,
                key=key,
                source=f"{asset.path}/{path.name}",
                source_hash=hashlib.md5(data).hexdigest(),  # change detection (= filemd5())
                content_type=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                kms_key_id=kms_key_arn,
                metadata={"sha256": hashlib.sha256(data).hexdigest()},
                tags=self.tags,
                depends_on=[self.encryption],
            )

        # --- roles ------------------------------------------------------------------------------------
        self.log_group = AwsLogGroup(
            self,
            "index-logs",
            name=f"/aws/lambda/{name_prefix}-kb-index",
            retention_in_days=log_retention_days,
            kms_key_id=kms_key_arn,
            tags=self.tags,
        )
        # --- 2. OpenSearch Serverless ----------------------------------------------------------------
        resource = f"collection/{collection_name}"
        self.encryption_policy = AwsSecurityPolicy(
            self,
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
            self,
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
            self,
            "collection",
            name=collection_name,
            type="VECTORSEARCH",
            description="OpsAgent runbooks (Bedrock knowledge base vectors)",
            standby_replicas="ENABLED" if standby_replicas else "DISABLED",
            tags=self.tags,
            depends_on=[self.encryption_policy, self.network_policy],
        )
        collection_arn = self.collection.arn

        self.role = ServiceRole(
            self,
            "kb-role",
            RoleSpec(
                name=f"{name_prefix}-kb"[:64],
                service="bedrock.amazonaws.com",
                description="OpsAgent knowledge base: read runbooks, embed them, write vectors",
                trust_conditions=(
                    Condition("StringEquals", "aws:SourceAccount", (account_id,)),
                    Condition("ArnLike", "aws:SourceArn", (kb_arn_pattern,)),
                ),
                statements=[
                    Statement(
                        sid="ListRunbookBucket",
                        actions=("s3:ListBucket",),
                        resources=(self.bucket.arn,),
                        conditions=(Condition("StringEquals", "aws:ResourceAccount", (account_id,)),),
                    ),
                    Statement(
                        sid="ReadRunbooks",
                        actions=("s3:GetObject",),
                        resources=(f"{self.bucket.arn}/*",),
                        conditions=(Condition("StringEquals", "aws:ResourceAccount", (account_id,)),),
                    ),
                    Statement(
                        sid="EmbedWithTitanV2",
                        actions=("bedrock:InvokeModel",),
                        resources=(embedding_model_arn,),
                    ),
                    Statement(
                        sid="UseVectorCollection", actions=("aoss:APIAccessAll",), resources=(collection_arn,)
                    ),
                    Statement(
                        sid="UseStackKey",
                        actions=("kms:Decrypt", "kms:GenerateDataKey"),
                        resources=(kms_key_arn,),
                    ),
                ],
            ),
        )
        self.index_role = ServiceRole(
            self,
            "index-role",
            RoleSpec(
                name=f"{name_prefix}-kb-index"[:64],
                service="lambda.amazonaws.com",
                description="OpsAgent knowledge base: create the vector index during apply",
                statements=[
                    Statement(
                        sid="WriteOwnLogGroup",
                        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                        resources=(f"{self.log_group.arn}:*",),
                    ),
                    Statement(
                        sid="XRayTraces",
                        actions=("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
                        resources=("*",),
                    ),
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
                                    "ec2:DescribeNetworkInterfaces",
                                    "ec2:AssignPrivateIpAddresses",
                                    "ec2:UnassignPrivateIpAddresses",
                                ),
                                resources=(
                                    f"arn:{partition}:ec2:{region}:{account_id}:network-interface/*",
                                    f"arn:{partition}:ec2:{region}:{account_id}:subnet/*",
                                    f"arn:{partition}:ec2:{region}:{account_id}:security-group/*",
                                ),
                            )
                        ]
                        if private_network
                        else []
                    ),
                ],
            ),
        )
        # One data access policy for both principals: once the bootstrap role's rule has propagated
        # (the Lambda retries 403 until it has), the knowledge base role's rule has too.
        self.access_policy = AwsAccessPolicy(
            self,
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
                                "Resource": [f"index/{collection_name}/*"],
                                "Permission": [
                                    "aoss:DescribeIndex",
                                    "aoss:ReadDocument",
                                    "aoss:WriteDocument",
                                ],
                            }
                        ],
                        "Principal": [self.role.arn],
                    },
                    {
                        "Description": "Index bootstrap Lambda role",
                        "Rules": [
                            {
                                "ResourceType": "index",
                                "Resource": [f"index/{collection_name}/*"],
                                "Permission": ["aoss:CreateIndex", "aoss:DescribeIndex"],
                            }
                        ],
                        "Principal": [self.index_role.arn],
                    },
                ]
            ),
        )

        # --- 3. index bootstrap --------------------------------------------------------------------
        code = TerraformAsset(self, "index-code", path=str(zip_path), type=AssetType.FILE)
        self.index_function = AwsFunction(
            self,
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
            reserved_concurrent_executions=1,
            tracing_config=AwsFunction.TracingConfigProperty(mode="Active"),
            environment=AwsFunction.EnvironmentProperty(variables={"POWERTOOLS_LOG_LEVEL": "INFO"}),
            kms_key_arn=kms_key_arn,
            vpc_config=AwsFunction.VpcConfigProperty(
                subnet_ids=list(index_function_subnet_ids),
                security_group_ids=list(index_function_security_group_ids),
            )
            if private_network
            else None,
            tags=self.tags,
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
        self.index_definition = index_body(EMBEDDING_DIMENSION)
        self.index_definition_hash = definition_hash(index_name, self.index_definition)
        self.index_invocation = AwsInvocation(
            self,
            "create-index",
            function_name=self.index_function.function_name,
            input=json.dumps(
                {
                    "endpoint": self.collection.collection_endpoint,
                    "index_name": index_name,
                    "index": self.index_definition,
                    "region": region,
                    "max_attempts": 12,
                    "settle_seconds": 20,
                }
            ),
            triggers={"index_definition": self.index_definition_hash, "collection_id": self.collection.id},
            depends_on=[
                self.collection,
                self.access_policy,
                self.network_policy,
                self.encryption_policy,
                self.index_function,
            ],
        )

        # --- 4. knowledge base, data source, association -------------------------------------------
        self.knowledge_base = AwsKnowledgeBase(
            self,
            "knowledge-base",
            name=kb_name,
            description="OpsAgent runbooks for EKS incidents (one Markdown document per incident type)",
            role_arn=self.role.arn,
            knowledge_base_configuration=[
                AwsKnowledgeBase.KnowledgeBaseConfigurationProperty(
                    type="VECTOR",
                    vector_knowledge_base_configuration=[
                        AwsKnowledgeBase.VectorKnowledgeBaseConfigurationProperty(
                            embedding_model_arn=embedding_model_arn,
                            embedding_model_configuration=[
                                AwsKnowledgeBase.KnowledgeBaseConfigurationVectorKnowledgeBaseConfigurationEmbeddingModelConfigurationProperty(
                                    bedrock_embedding_model_configuration=[
                                        AwsKnowledgeBase.KnowledgeBaseConfigurationVectorKnowledgeBaseConfigurationEmbeddingModelConfigurationBedrockEmbeddingModelConfigurationProperty(
                                            dimensions=EMBEDDING_DIMENSION, embedding_data_type="FLOAT32"
                                        )
                                    ]
                                )
                            ],
                        )
                    ],
                )
            ],
            storage_configuration=[
                AwsKnowledgeBase.StorageConfigurationProperty(
                    type="OPENSEARCH_SERVERLESS",
                    opensearch_serverless_configuration=[
                        AwsKnowledgeBase.OpensearchServerlessConfigurationProperty(
                            collection_arn=collection_arn,
                            vector_index_name=index_name,
                            field_mapping=[
                                AwsKnowledgeBase.StorageConfigurationOpensearchServerlessConfigurationFieldMappingProperty(
                                    vector_field=VECTOR_FIELD,
                                    text_field=TEXT_FIELD,
                                    metadata_field=METADATA_FIELD,
                                )
                            ],
                        )
                    ],
                )
            ],
            tags=self.tags,
            depends_on=[self.index_invocation, self.role.policy, self.access_policy],
        )
        self.data_source = AwsDataSource(
            self,
            "data-source",
            name=f"{name_prefix}-runbooks-s3",
            description="knowledge_base/runbooks from the OpsAgent repository (Markdown + .metadata.json)",
            knowledge_base_id=self.knowledge_base.id,
            # RETAIN: deleting the data source must not need the collection (destroy order is not ours)
            data_deletion_policy="RETAIN",
            data_source_configuration=[
                AwsDataSource.DataSourceConfigurationProperty(
                    type="S3",
                    s3_configuration=[
                        AwsDataSource.S3ConfigurationProperty(
                            bucket_arn=self.bucket.arn,
                            bucket_owner_account_id=account_id,
                            inclusion_prefixes=[DOCUMENT_PREFIX],
                        )
                    ],
                )
            ],
            server_side_encryption_configuration=[
                AwsDataSource.ServerSideEncryptionConfigurationProperty(kms_key_arn=kms_key_arn)
            ],
            vector_ingestion_configuration=[
                AwsDataSource.VectorIngestionConfigurationProperty(
                    chunking_configuration=[
                        AwsDataSource.ChunkingConfigurationProperty(
                            chunking_strategy="HIERARCHICAL",
                            hierarchical_chunking_configuration=[
                                AwsDataSource.HierarchicalChunkingConfigurationProperty(
                                    overlap_tokens=CHUNKING["overlap_tokens"],
                                    level_configuration=[
                                        AwsDataSource.LevelConfigurationProperty(
                                            max_tokens=CHUNKING["parent_max_tokens"]
                                        ),
                                        AwsDataSource.LevelConfigurationProperty(
                                            max_tokens=CHUNKING["child_max_tokens"]
                                        ),
                                    ],
                                )
                            ],
                        )
                    ]
                )
            ],
            depends_on=[self.role.policy],
        )
        self.association = None
        if agent_id:
            self.association = AwsAgentKnowledgeBaseAssociation(
                self,
                "association",
                agent_id=agent_id,
                agent_version=agent_version,
                knowledge_base_id=self.knowledge_base.id,
                knowledge_base_state="ENABLED",
                description=association_description,
            )

        self.outputs: dict[str, TerraformOutput] = {}
        if create_outputs:
            for name, value, description in (
                ("knowledge_base_id", self.knowledge_base.id, "Bedrock knowledge base id (runbooks)"),
                ("knowledge_base_data_source_id", self.data_source.data_source_id, "Its S3 data source id"),
                ("knowledge_base_bucket", self.bucket.bucket, "Bucket holding the runbook documents"),
                ("knowledge_base_collection_endpoint", self.collection.collection_endpoint, "Vector store"),
            ):
                output = TerraformOutput(self, name, value=value, description=description)
                output.override_logical_id(name)
                self.outputs[name] = output

    # --- wiring helpers -------------------------------------------------------------------------------
    @property
    def knowledge_base_id(self) -> str:
        return self.knowledge_base.id

    @property
    def knowledge_base_arn(self) -> str:
        return self.knowledge_base.arn

    @property
    def data_source_id(self) -> str:
        return self.data_source.data_source_id

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket

    @property
    def bucket_arn(self) -> str:
        return self.bucket.arn

    @property
    def collection_arn(self) -> str:
        return self.collection.arn

    @property
    def collection_endpoint(self) -> str:
        return self.collection.collection_endpoint

    @property
    def role_arn(self) -> str:
        return self.role.arn

    def grant_retrieve(self) -> Grant:
        """For the agent's role: the agent retrieves from the knowledge base as itself."""
        return retrieve_grant(self.knowledge_base.arn)

    @property
    def agent_statements(self) -> list[Statement]:
        return list(self.grant_retrieve().statements)


def retrieve_grant(knowledge_base_arn: str) -> Grant:
    return Grant.of(
        Statement(sid="RetrieveRunbooks", actions=("bedrock:Retrieve",), resources=(knowledge_base_arn,))
    )


class ExistingKnowledgeBase:
    """A knowledge base this stack does not create (``knowledge_base.knowledge_base_id``)."""

    def __init__(self, knowledge_base_id: str, *, arn: str):
        self.knowledge_base_id = knowledge_base_id
        self.arn = arn

    def grant_retrieve(self) -> Grant:
        return retrieve_grant(self.arn)
