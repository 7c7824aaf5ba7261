"""Constants and helpers the knowledge base parts share."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

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
    "CKV_AWS_115": "Invoked once per apply by Terraform; no reservation, because Lambda rejects any "
    "reservation on accounts at the default limit of 10 concurrent executions",
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
