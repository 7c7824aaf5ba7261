"""Sync the runbooks to the knowledge base bucket and ingest them (``make kb-sync``).

    python -m tools.kb_sync [--env dev] [--bucket B --knowledge-base-id K --data-source-id D]

1. Validates ``knowledge_base/runbooks`` (front matter, metadata files) and refuses to upload a
   broken set.
2. Reads the bucket, knowledge base id and data source id from ``terraform output -json`` in
   ``cdktf.out/stacks/opsagent-<env>`` (outputs ``knowledge_base_bucket``, ``knowledge_base_id``,
   ``knowledge_base_data_source_id``), unless given as flags.
3. Uploads new or changed files under ``runbooks/``: a file is unchanged when the object's
   ``x-amz-meta-sha256`` equals the local SHA-256 (with SSE-KMS the ETag is not an MD5; without
   the metadata an ETag equal to the local MD5 also counts as unchanged). Objects under the prefix
   with no local file are deleted (``--no-prune`` keeps them).
4. Starts an ingestion job (incremental: Bedrock re-embeds only what changed) and polls it, printing
   the statistics as they move, until COMPLETE or FAILED; prints the failure reasons. Exit 0 when
   the job completed without failed documents, 1 otherwise, 2 for usage/configuration errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "knowledge_base" / "runbooks"
PREFIX = "runbooks/"
OUTPUTS = {
    "bucket": "knowledge_base_bucket",
    "knowledge_base_id": "knowledge_base_id",
    "data_source_id": "knowledge_base_data_source_id",
}
TERMINAL = {"COMPLETE", "FAILED", "STOPPED"}
STAT_LABELS = {
    "numberOfDocumentsScanned": "scanned",
    "numberOfMetadataDocumentsScanned": "metadata scanned",
    "numberOfNewDocumentsIndexed": "new",
    "numberOfModifiedDocumentsIndexed": "modified",
    "numberOfMetadataDocumentsModified": "metadata modified",
    "numberOfDocumentsDeleted": "deleted",
    "numberOfDocumentsSkipped": "skipped",
    "numberOfDocumentsFailed": "failed",
}
_CONTENT_TYPES = {".md": "text/markdown; charset=utf-8", ".json": "application/json"}


class SyncError(Exception):
    """A configuration or AWS problem that stops the sync (exit 2)."""


# --- plan ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalDoc:
    path: Path
    sha256: str
    md5: str

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES.get(self.path.suffix, "application/octet-stream")


@dataclass(frozen=True)
class RemoteDoc:
    sha256: str | None
    etag: str


@dataclass
class SyncPlan:
    upload: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.upload or self.delete)


def local_documents(directory: Path, prefix: str = PREFIX) -> dict[str, LocalDoc]:
    """Every runbook and metadata file, keyed by its S3 key."""
    docs = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and (path.suffix == ".md" or path.name.endswith(".metadata.json")):
            data = path.read_bytes()
            docs[prefix + path.name] = LocalDoc(
                path,
                hashlib.sha256(data).hexdigest(),
                hashlib.md5(data).hexdigest(),  # compared with plain ETags
            )
    return docs


def remote_documents(s3: Any, bucket: str, prefix: str = PREFIX) -> dict[str, RemoteDoc]:
    """Objects under ``prefix`` with their ``sha256`` metadata (one HEAD per object) and ETag."""
    out: dict[str, RemoteDoc] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            head = s3.head_object(Bucket=bucket, Key=item["Key"])
            out[item["Key"]] = RemoteDoc(
                sha256=(head.get("Metadata") or {}).get("sha256"), etag=str(item.get("ETag", "")).strip('"')
            )
    return out


def plan_sync(
    local: Mapping[str, LocalDoc], remote: Mapping[str, RemoteDoc], *, prune: bool = True
) -> SyncPlan:
    plan = SyncPlan()
    for key, doc in sorted(local.items()):
        have = remote.get(key)
        if have is not None and (have.sha256 == doc.sha256 or (have.sha256 is None and have.etag == doc.md5)):
            plan.unchanged.append(key)
        else:
            plan.upload.append(key)
    if prune:
        plan.delete = sorted(k for k in remote if k not in local)
    return plan


def apply_plan(
    s3: Any, bucket: str, plan: SyncPlan, local: Mapping[str, LocalDoc], *, dry_run: bool, out: TextIO
) -> None:
    verb = "would upload" if dry_run else "upload"
    for key in plan.upload:
        doc = local[key]
        print(f"  {verb} {key}", file=out)
        if not dry_run:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=doc.path.read_bytes(),
                ContentType=doc.content_type,
                Metadata={"sha256": doc.sha256},
            )
    for key in plan.delete:
        print(f"  {'would delete' if dry_run else 'delete'} {key}", file=out)
        if not dry_run:
            s3.delete_object(Bucket=bucket, Key=key)


# --- ingestion -----------------------------------------------------------------------------------------


@dataclass
class IngestionResult:
    job_id: str
    status: str
    statistics: dict[str, int]
    failure_reasons: list[str]

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETE" and not self.statistics.get("numberOfDocumentsFailed")


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def format_statistics(stats: Mapping[str, int]) -> str:
    return (
        ", ".join(f"{label} {stats[k]}" for k, label in STAT_LABELS.items() if k in stats)
        or "no statistics yet"
    )


def run_ingestion(
    client: Any,
    knowledge_base_id: str,
    data_source_id: str,
    *,
    description: str = "tools/kb_sync.py",
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
    conflict_retries: int = 12,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: TextIO = sys.stdout,
) -> IngestionResult:
    """Start an ingestion job and poll it to a terminal state, printing progress."""
    for attempt in range(conflict_retries + 1):
        try:
            started = client.start_ingestion_job(
                knowledgeBaseId=knowledge_base_id,
                dataSourceId=data_source_id,
                clientToken=str(uuid.uuid4()),
                description=description[:200],
            )
            break
        except Exception as exc:
            if _error_code(exc) != "ConflictException" or attempt == conflict_retries:
                raise
            print(f"another ingestion job is running; retrying in {poll_seconds:g}s", file=out)
            sleep(poll_seconds)
    job = started["ingestionJob"]
    job_id = job["ingestionJobId"]
    print(f"ingestion job {job_id}: {job.get('status', 'STARTING')}", file=out, flush=True)
    deadline = clock() + timeout_seconds
    last_line = ""
    while True:
        job = client.get_ingestion_job(
            knowledgeBaseId=knowledge_base_id, dataSourceId=data_source_id, ingestionJobId=job_id
        )["ingestionJob"]
        status, stats = job["status"], dict(job.get("statistics") or {})
        line = f"  {status}: {format_statistics(stats)}"
        if line != last_line:
            print(line, file=out, flush=True)
            last_line = line
        if status in TERMINAL:
            reasons = [str(r) for r in job.get("failureReasons") or []]
            for reason in reasons:
                print(f"  failure: {reason}", file=out)
            return IngestionResult(job_id, status, stats, reasons)
        if clock() >= deadline:
            return IngestionResult(job_id, "TIMEOUT", stats, [f"still {status} after {timeout_seconds:g}s"])
        sleep(poll_seconds)


# --- targets -------------------------------------------------------------------------------------------


def stack_dir_for(env: str) -> Path:
    return ROOT / "cdktf.out" / "stacks" / f"opsagent-{env}"


def terraform_outputs(stack_dir: Path, runner: Callable[..., Any] = subprocess.run) -> dict[str, Any]:
    """``terraform output -json`` in the synthesized stack directory -> {name: value}."""
    if not stack_dir.is_dir():
        raise SyncError(f"{stack_dir} does not exist: synthesize and apply first (make deploy) or pass flags")
    try:
        done = runner(
            ["terraform", "output", "-json"],
            cwd=stack_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise SyncError(
            "terraform is not on PATH: pass --bucket/--knowledge-base-id/--data-source-id"
        ) from None
    if done.returncode != 0:
        raise SyncError(f"terraform output failed in {stack_dir}: {done.stderr.strip()[:500]}")
    try:
        raw = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise SyncError(f"terraform output -json is not JSON: {exc}") from None
    return {name: item.get("value") if isinstance(item, dict) else item for name, item in raw.items()}


def pick_outputs(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Our three values from the outputs (exact names, or names ending with them when the stack
    nests the construct's outputs)."""
    found: dict[str, str] = {}
    for field_name, output in OUTPUTS.items():
        candidates = [k for k in outputs if k == output] or [k for k in outputs if k.endswith("_" + output)]
        if len(candidates) == 1 and outputs[candidates[0]]:
            found[field_name] = str(outputs[candidates[0]])
    return found


# --- main ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.kb_sync", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="dev", help="environment (stack opsagent-<env>); default dev")
    p.add_argument(
        "--stack-dir", type=Path, help="synthesized stack directory (default cdktf.out/stacks/opsagent-<env>)"
    )
    p.add_argument("--bucket", help="documents bucket (else terraform output knowledge_base_bucket)")
    p.add_argument("--knowledge-base-id", help="else terraform output knowledge_base_id")
    p.add_argument("--data-source-id", help="else terraform output knowledge_base_data_source_id")
    p.add_argument("--runbooks-dir", type=Path, default=RUNBOOKS)
    p.add_argument("--prefix", default=PREFIX, help="key prefix the data source includes (default runbooks/)")
    p.add_argument("--region", help="AWS region (default from the environment/profile)")
    p.add_argument("--dry-run", action="store_true", help="show what would change; no upload, no ingestion")
    p.add_argument("--no-prune", action="store_true", help="keep objects that have no local file")
    p.add_argument("--no-ingest", action="store_true", help="upload only")
    p.add_argument("--poll-seconds", type=float, default=5.0)
    p.add_argument("--timeout-minutes", type=float, default=30.0)
    return p


def main(
    argv: list[str] | None = None,
    *,
    s3: Any = None,
    bedrock_agent: Any = None,
    runner: Callable[..., Any] = subprocess.run,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO = sys.stdout,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        from opsagent.runbooks.__main__ import check

        problems = check(args.runbooks_dir)
        if problems:
            raise SyncError("runbooks are invalid, nothing uploaded:\n  " + "\n  ".join(problems))
        targets = {
            "bucket": args.bucket,
            "knowledge_base_id": args.knowledge_base_id,
            "data_source_id": args.data_source_id,
        }
        if not all(targets.values()):
            found = pick_outputs(terraform_outputs(args.stack_dir or stack_dir_for(args.env), runner))
            targets = {k: v or found.get(k) for k, v in targets.items()}
        missing = [k for k, v in targets.items() if not v and not (k != "bucket" and args.no_ingest)]
        if missing:
            raise SyncError(
                f"unknown {', '.join(missing)}: not in the terraform outputs and not given as flags"
            )
        if s3 is None or (bedrock_agent is None and not args.no_ingest and not args.dry_run):
            import boto3

            session = boto3.session.Session(region_name=args.region)
            s3 = s3 or session.client("s3")
            bedrock_agent = bedrock_agent or session.client("bedrock-agent")

        local = local_documents(args.runbooks_dir, args.prefix)
        remote = remote_documents(s3, targets["bucket"], args.prefix)
        plan = plan_sync(local, remote, prune=not args.no_prune)
        print(
            f"s3://{targets['bucket']}/{args.prefix}: {len(plan.upload)} to upload, "
            f"{len(plan.delete)} to delete, {len(plan.unchanged)} unchanged",
            file=out,
        )
        apply_plan(s3, targets["bucket"], plan, local, dry_run=args.dry_run, out=out)
        if args.dry_run or args.no_ingest:
            return 0
        result = run_ingestion(
            bedrock_agent,
            targets["knowledge_base_id"],
            targets["data_source_id"],
            description=f"kb_sync: {len(plan.upload)} uploaded, {len(plan.delete)} deleted",
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_minutes * 60,
            sleep=sleep,
            out=out,
        )
    except SyncError as exc:
        print(f"kb-sync: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # AWS errors: say which call failed and why
        code = _error_code(exc)
        print(f"kb-sync: {type(exc).__name__}{f' ({code})' if code else ''}: {exc}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"ingestion {result.job_id} COMPLETE: {format_statistics(result.statistics)}", file=out)
        return 0
    failed = result.statistics.get("numberOfDocumentsFailed")
    detail = f"{failed} document(s) failed" if result.status == "COMPLETE" and failed else result.status
    print(f"ingestion {result.job_id} did not succeed: {detail}", file=out)
    return 1


if __name__ == "__main__":
    sys.exit(main())
