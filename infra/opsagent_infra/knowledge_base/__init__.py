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

Layout: ``bucket.DocumentsBucket`` (1), ``vector_store.VectorStore`` (2 + the data access policy),
``index_bootstrap.IndexBootstrap`` (3) and this module's ``RunbookKnowledgeBase`` (the KB role, 4, the
wiring and outputs). The parts create their resources in the ``RunbookKnowledgeBase`` construct, so the
Terraform addresses are the same as when this was one module.

Switching it off is the caller's ``if config.knowledge_base.enabled:`` around the construct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cdktn import TerraformOutput
from cdktn_aws.bedrock_agents import AwsAgentKnowledgeBaseAssociation, AwsDataSource, AwsKnowledgeBase
from cdktn_aws.meta_data_sources import DataAwsPartition, DataAwsRegion
from cdktn_aws.sts import DataAwsCallerIdentity
from constructs import Construct

from opsagent_infra.iam import Condition, Grant, RoleSpec, ServiceRole, Statement
from opsagent_infra.knowledge_base.bucket import DocumentsBucket
from opsagent_infra.knowledge_base.common import (
    ASSOCIATION_DESCRIPTION,
    CHUNKING,
    DOCUMENT_PREFIX,
    EMBEDDING_DIMENSION,
    INDEX_HANDLER,
    aoss_name,
    runbook_files,
    zip_base64sha256,
)
from opsagent_infra.knowledge_base.index_bootstrap import IndexBootstrap
from opsagent_infra.knowledge_base.vector_store import VectorStore

__all__ = [
    "ASSOCIATION_DESCRIPTION",
    "CHUNKING",
    "DOCUMENT_PREFIX",
    "EMBEDDING_DIMENSION",
    "INDEX_HANDLER",
    "DocumentsBucket",
    "ExistingKnowledgeBase",
    "IndexBootstrap",
    "RunbookKnowledgeBase",
    "VectorStore",
    "aoss_name",
    "runbook_files",
    "zip_base64sha256",
]


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
        kb_name = f"{name_prefix}-runbooks"
        embedding_model_arn = f"arn:{partition}:bedrock:{region}::foundation-model/{EMBEDDING_MODEL_ID}"
        kb_arn_pattern = f"arn:{partition}:bedrock:{region}:{account_id}:knowledge-base/*"

        # --- 1. documents bucket -----------------------------------------------------------------------
        self.documents = DocumentsBucket(
            self,
            name_prefix=name_prefix,
            kms_key_arn=kms_key_arn,
            runbooks_path=runbooks_path,
            tags=self.tags,
            force_destroy=force_destroy,
        )
        self.bucket = self.documents.bucket
        self.encryption = self.documents.encryption
        self.bucket_policy = self.documents.bucket_policy
        self.objects = self.documents.objects
        # --- 2. vector store ----------------------------------------------------------------------------
        self.vector_store = store = VectorStore(
            self,
            name_prefix=name_prefix,
            kms_key_arn=kms_key_arn,
            private_network=private_network,
            vpc_endpoint_ids=vpc_endpoint_ids,
            standby_replicas=standby_replicas,
            tags=self.tags,
        )
        self.encryption_policy = store.encryption_policy
        self.network_policy = store.network_policy
        self.collection = store.collection
        collection_arn = store.arn
        # --- 3. index bootstrap function (invoked below, once the data access policy exists) -----------
        self.index_bootstrap = bootstrap = IndexBootstrap(
            self,
            name_prefix=name_prefix,
            kms_key_arn=kms_key_arn,
            zip_path=zip_path,
            log_retention_days=log_retention_days,
            collection_arn=collection_arn,
            private_network=private_network,
            index_function_subnet_ids=index_function_subnet_ids,
            index_function_security_group_ids=index_function_security_group_ids,
            partition=partition,
            region=region,
            account_id=account_id,
            tags=self.tags,
        )
        self.log_group = bootstrap.log_group
        self.index_role = bootstrap.index_role
        self.index_function = bootstrap.index_function

        # --- the knowledge base's role ------------------------------------------------------------------
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
        self.access_policy = store.grant_data_access(
            self, name_prefix=name_prefix, kb_role_arn=self.role.arn, index_role_arn=self.index_role.arn
        )
        self.index_invocation = bootstrap.create_index(
            self, store=store, index_name=index_name, region=region
        )
        self.index_definition = bootstrap.index_definition
        self.index_definition_hash = bootstrap.index_definition_hash

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
