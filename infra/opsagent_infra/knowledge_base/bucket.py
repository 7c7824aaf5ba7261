"""Part 1: the runbook documents bucket (hardened) and one object per runbook file."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

from cdktn import AssetType, TerraformAsset
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
from constructs import Construct

from opsagent_infra.iam import checkov_skip
from opsagent_infra.knowledge_base.common import (
    _CHECKOV_BUCKET_SKIPS,
    _CONTENT_TYPES,
    DOCUMENT_PREFIX,
    runbook_files,
)


class DocumentsBucket:
    """Versioned, SSE-KMS (bucket key), TLS-only, no public access, BucketOwnerEnforced, old versions
    expire; every ``*.md`` + ``.md.metadata.json`` under ``runbooks/`` (``source_hash`` = MD5, so a
    changed file re-uploads; ``x-amz-meta-sha256`` for ``tools/kb_sync.py``). Resources are created in
    ``scope`` (the knowledge base construct), so their Terraform addresses do not depend on this class."""

    def __init__(
        self,
        scope: Construct,
        *,
        name_prefix: str,
        kms_key_arn: str,
        runbooks_path: Path,
        tags: Mapping[str, str],
        force_destroy: bool,
    ) -> None:
        # --- 1. documents bucket --------------------------------------------------------------------
        # force_destroy: versioned objects would otherwise block `terraform destroy` (dev environments)
        self.bucket = AwsBucket(
            scope,
            "bucket",
            bucket_prefix=f"{name_prefix[:30]}-kb-".lower(),
            force_destroy=force_destroy,
            tags=tags,
        )
        for check_id, reason in _CHECKOV_BUCKET_SKIPS.items():
            checkov_skip(self.bucket, check_id, reason)
        bucket_id = self.bucket.id
        AwsBucketVersioning(
            scope,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=AwsBucketVersioning.VersioningConfigurationProperty(status="Enabled"),
        )
        self.encryption = AwsBucketServerSideEncryptionConfiguration(
            scope,
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
            scope,
            "public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        AwsBucketOwnershipControls(
            scope,
            "ownership",
            bucket=bucket_id,
            rule=AwsBucketOwnershipControls.RuleProperty(object_ownership="BucketOwnerEnforced"),
        )
        AwsBucketLifecycleConfiguration(
            scope,
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
            scope,
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
        asset = TerraformAsset(scope, "runbooks", path=str(runbooks_path), type=AssetType.DIRECTORY)
        self.objects: dict[str, AwsObject] = {}
        for index, path in enumerate(runbook_files(runbooks_path)):
            data = path.read_bytes()
            key = DOCUMENT_PREFIX + path.name
            self.objects[key] = AwsObject(
                scope,
                f"doc-{index}-{re.sub(r'[^A-Za-z0-9]+', '-', path.name)}"[:200],
                bucket=bucket_id,
                key=key,
                source=f"{asset.path}/{path.name}",
                source_hash=hashlib.md5(data).hexdigest(),  # change detection (= filemd5())
                content_type=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                kms_key_id=kms_key_arn,
                metadata={"sha256": hashlib.sha256(data).hexdigest()},
                tags=tags,
                depends_on=[self.encryption],
            )

    @property
    def arn(self) -> str:
        return self.bucket.arn
