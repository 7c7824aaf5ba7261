"""tools/kb_sync.py: the upload diff against moto S3, ingestion polling with a fake bedrock-agent client
(moto has none), terraform outputs, and the command end to end."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tools import kb_sync
from tools.kb_sync import (
    LocalDoc,
    RemoteDoc,
    local_documents,
    pick_outputs,
    plan_sync,
    remote_documents,
    run_ingestion,
    terraform_outputs,
)

RUNBOOKS = Path(__file__).resolve().parents[2] / "knowledge_base" / "runbooks"
BUCKET = "opsagent-dev-kb-test"


@pytest.fixture
def runbooks(tmp_path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, target)
    return target


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


# --- the diff ----------------------------------------------------------------------------------------


def test_plan_logic():
    local = {
        "runbooks/a.md": LocalDoc(Path("a.md"), "s1", "m1"),
        "runbooks/b.md": LocalDoc(Path("b.md"), "s2", "m2"),
        "runbooks/c.md": LocalDoc(Path("c.md"), "s3", "m3"),
    }
    remote = {
        "runbooks/a.md": RemoteDoc(sha256="s1", etag="kms-etag"),  # same content (metadata)
        "runbooks/b.md": RemoteDoc(sha256=None, etag="m2"),  # no metadata, plain ETag = MD5
        "runbooks/c.md": RemoteDoc(sha256="old", etag="m3"),  # metadata says changed: it wins over the ETag
        "runbooks/gone.md": RemoteDoc(sha256="x", etag="y"),
    }
    plan = plan_sync(local, remote)
    assert plan.unchanged == ["runbooks/a.md", "runbooks/b.md"]
    assert plan.upload == ["runbooks/c.md"] and plan.delete == ["runbooks/gone.md"]
    assert plan_sync(local, remote, prune=False).delete == []


def test_first_sync_uploads_everything_with_hash_metadata_then_nothing(s3, runbooks):
    local = local_documents(runbooks)
    assert len(local) == 2 * len(list(runbooks.glob("*.md")))
    plan = plan_sync(local, remote_documents(s3, BUCKET))
    assert sorted(plan.upload) == sorted(local) and not plan.unchanged
    kb_sync.apply_plan(s3, BUCKET, plan, local, dry_run=False, out=io.StringIO())
    head = s3.head_object(Bucket=BUCKET, Key="runbooks/high-cpu.md")
    assert head["Metadata"] == {"sha256": local["runbooks/high-cpu.md"].sha256}
    assert head["ContentType"] == "text/markdown; charset=utf-8"
    assert (
        s3.head_object(Bucket=BUCKET, Key="runbooks/high-cpu.md.metadata.json")["ContentType"]
        == "application/json"
    )
    again = plan_sync(local_documents(runbooks), remote_documents(s3, BUCKET))
    assert again.upload == [] and again.delete == [] and len(again.unchanged) == len(local)


def test_changed_added_and_removed_files(s3, runbooks):
    local = local_documents(runbooks)
    kb_sync.apply_plan(s3, BUCKET, plan_sync(local, {}), local, dry_run=False, out=io.StringIO())
    s3.put_object(Bucket=BUCKET, Key="runbooks/retired.md", Body=b"old runbook")
    s3.put_object(Bucket=BUCKET, Key="other/keep.txt", Body=b"outside the prefix")
    path = runbooks / "high-cpu.md"
    path.write_text(path.read_text().replace("## Symptoms", "## Symptoms\n- one more symptom"))
    plan = plan_sync(local_documents(runbooks), remote_documents(s3, BUCKET))
    assert plan.upload == ["runbooks/high-cpu.md"] and plan.delete == ["runbooks/retired.md"]
    out = io.StringIO()
    kb_sync.apply_plan(s3, BUCKET, plan, local_documents(runbooks), dry_run=True, out=out)
    assert "would upload runbooks/high-cpu.md" in out.getvalue() and "runbooks/retired.md" in keys(s3)
    kb_sync.apply_plan(s3, BUCKET, plan, local_documents(runbooks), dry_run=False, out=io.StringIO())
    assert "runbooks/retired.md" not in keys(s3) and "other/keep.txt" in keys(s3)
    body = s3.get_object(Bucket=BUCKET, Key="runbooks/high-cpu.md")["Body"].read().decode()
    assert "one more symptom" in body


def test_objects_uploaded_by_terraform_are_recognised(s3, runbooks):
    """aws_s3_object sets the same x-amz-meta-sha256: no re-upload after a terraform apply."""
    local = local_documents(runbooks)
    for key, doc in local.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=doc.path.read_bytes(), Metadata={"sha256": doc.sha256})
    assert plan_sync(local, remote_documents(s3, BUCKET)).upload == []


# --- ingestion ------------------------------------------------------------------------------------------


class FakeBedrockAgent:
    """start_ingestion_job / get_ingestion_job with scripted answers (moto lacks bedrock-agent)."""

    def __init__(self, states: list[dict], conflicts: int = 0) -> None:
        self.states = states
        self.conflicts = conflicts
        self.started: list[dict] = []
        self.polled: list[dict] = []

    def start_ingestion_job(self, **kwargs):
        if self.conflicts:
            self.conflicts -= 1
            raise ClientError(
                {"Error": {"Code": "ConflictException", "Message": "job running"}}, "StartIngestionJob"
            )
        self.started.append(kwargs)
        return {"ingestionJob": {"ingestionJobId": "JOB1", "status": "STARTING", **kwargs}}

    def get_ingestion_job(self, **kwargs):
        self.polled.append(kwargs)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"ingestionJob": {"ingestionJobId": "JOB1", **state}}


def stats(scanned=0, new=0, failed=0):
    return {
        "numberOfDocumentsScanned": scanned,
        "numberOfNewDocumentsIndexed": new,
        "numberOfDocumentsFailed": failed,
    }


def test_polls_until_complete_and_prints_progress():
    fake = FakeBedrockAgent(
        [
            {"status": "STARTING"},
            {"status": "IN_PROGRESS", "statistics": stats(4)},
            {"status": "IN_PROGRESS", "statistics": stats(4)},
            {"status": "IN_PROGRESS", "statistics": stats(9, 5)},
            {"status": "COMPLETE", "statistics": stats(9, 9)},
        ]
    )
    out, sleeps = io.StringIO(), []
    result = run_ingestion(fake, "KB12345678", "DS12345678", sleep=sleeps.append, out=out, poll_seconds=2)
    assert result.ok and result.status == "COMPLETE" and result.statistics["numberOfNewDocumentsIndexed"] == 9
    assert (
        fake.started[0]["knowledgeBaseId"] == "KB12345678" and fake.started[0]["dataSourceId"] == "DS12345678"
    )
    assert fake.started[0]["clientToken"]
    assert all(
        p == {"knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678", "ingestionJobId": "JOB1"}
        for p in fake.polled
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == "ingestion job JOB1: STARTING"
    assert "  IN_PROGRESS: scanned 4, new 0, failed 0" in lines
    assert lines.count("  IN_PROGRESS: scanned 4, new 0, failed 0") == 1  # unchanged progress is not repeated
    assert lines[-1] == "  COMPLETE: scanned 9, new 9, failed 0"
    assert sleeps == [2, 2, 2, 2]


def test_failed_job_reports_its_reasons():
    fake = FakeBedrockAgent(
        [{"status": "FAILED", "statistics": stats(3), "failureReasons": ["AccessDenied on s3://x", "bad"]}]
    )
    out = io.StringIO()
    result = run_ingestion(fake, "K", "D", sleep=lambda s: None, out=out)
    assert not result.ok and result.failure_reasons == ["AccessDenied on s3://x", "bad"]
    assert "  failure: AccessDenied on s3://x" in out.getvalue()


def test_complete_with_failed_documents_is_not_ok():
    fake = FakeBedrockAgent([{"status": "COMPLETE", "statistics": stats(9, 8, 1)}])
    assert not run_ingestion(fake, "K", "D", sleep=lambda s: None, out=io.StringIO()).ok


def test_conflict_waits_for_the_running_job_then_starts():
    fake = FakeBedrockAgent([{"status": "COMPLETE", "statistics": stats(1, 1)}], conflicts=2)
    sleeps = []
    assert run_ingestion(fake, "K", "D", sleep=sleeps.append, out=io.StringIO(), poll_seconds=3).ok
    assert sleeps == [3, 3] and len(fake.started) == 1


def test_other_start_errors_propagate():
    class Denied(FakeBedrockAgent):
        def start_ingestion_job(self, **kwargs):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "StartIngestionJob"
            )

    with pytest.raises(ClientError):
        run_ingestion(Denied([{}]), "K", "D", sleep=lambda s: None, out=io.StringIO())


def test_timeout_stops_polling():
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    fake = FakeBedrockAgent([{"status": "IN_PROGRESS", "statistics": stats(1)}])
    result = run_ingestion(
        fake,
        "K",
        "D",
        sleep=sleep,
        clock=lambda: now[0],
        timeout_seconds=20,
        poll_seconds=5,
        out=io.StringIO(),
    )
    assert result.status == "TIMEOUT" and not result.ok and len(fake.polled) == 5


# --- terraform outputs -----------------------------------------------------------------------------------


def completed(stdout="", returncode=0, stderr=""):
    return subprocess.CompletedProcess(["terraform"], returncode, stdout=stdout, stderr=stderr)


def test_terraform_outputs_are_read_from_the_stack_dir(tmp_path):
    calls = []
    doc = {
        "knowledge_base_id": {"value": "KB12345678", "type": "string", "sensitive": False},
        "knowledge_base_data_source_id": {"value": "DS12345678"},
        "knowledge_base_bucket": {"value": "b-1"},
        "agent_id": {"value": "A"},
    }

    def runner(cmd, **kwargs):
        calls.append((cmd, kwargs["cwd"]))
        return completed(json.dumps(doc))

    outputs = terraform_outputs(tmp_path, runner)
    assert calls == [(["terraform", "output", "-json"], tmp_path)]
    assert pick_outputs(outputs) == {
        "bucket": "b-1",
        "knowledge_base_id": "KB12345678",
        "data_source_id": "DS12345678",
    }
    nested = {
        "kb_knowledge_base_id": "K",
        "kb_knowledge_base_data_source_id": "D",
        "kb_knowledge_base_bucket": "B",
    }
    assert pick_outputs(nested) == {"bucket": "B", "knowledge_base_id": "K", "data_source_id": "D"}


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        (
            lambda cmd, **kw: completed("", 1, "No outputs found: run terraform apply"),
            "terraform output failed",
        ),
        (lambda cmd, **kw: completed("not json"), "not JSON"),
    ],
)
def test_terraform_output_errors(tmp_path, runner, message):
    with pytest.raises(kb_sync.SyncError, match=message):
        terraform_outputs(tmp_path, runner)
    with pytest.raises(kb_sync.SyncError, match="does not exist"):
        terraform_outputs(tmp_path / "nope", runner)


# --- the command -----------------------------------------------------------------------------------------


def test_main_end_to_end(s3, runbooks, tmp_path, capsys):
    outputs = {
        "knowledge_base_id": {"value": "KB12345678"},
        "knowledge_base_data_source_id": {"value": "DS12345678"},
        "knowledge_base_bucket": {"value": BUCKET},
    }
    fake = FakeBedrockAgent([{"status": "COMPLETE", "statistics": stats(18, 18)}])
    out = io.StringIO()
    code = kb_sync.main(
        ["--stack-dir", str(tmp_path), "--runbooks-dir", str(runbooks)],
        s3=s3,
        bedrock_agent=fake,
        runner=lambda cmd, **kw: completed(json.dumps(outputs)),
        sleep=lambda s: None,
        out=out,
    )
    assert code == 0, capsys.readouterr().err
    text = out.getvalue()
    assert (
        f"s3://{BUCKET}/runbooks/: {len(local_documents(runbooks))} to upload, 0 to delete, 0 unchanged"
        in text
    )
    assert "ingestion JOB1 COMPLETE" in text
    assert fake.started[0]["description"].startswith(f"kb_sync: {len(local_documents(runbooks))} uploaded")


def test_main_refuses_invalid_runbooks(s3, runbooks, capsys):
    (runbooks / "high-cpu.md").write_text("no front matter")
    code = kb_sync.main(
        [
            "--bucket",
            BUCKET,
            "--knowledge-base-id",
            "K",
            "--data-source-id",
            "D",
            "--runbooks-dir",
            str(runbooks),
        ],
        s3=s3,
        bedrock_agent=FakeBedrockAgent([{}]),
    )
    assert code == 2 and "runbooks are invalid, nothing uploaded" in capsys.readouterr().err
    assert keys(s3) == set()


def test_main_exit_1_when_ingestion_fails(s3, runbooks):
    fake = FakeBedrockAgent([{"status": "FAILED", "failureReasons": ["boom"]}])
    code = kb_sync.main(
        [
            "--bucket",
            BUCKET,
            "--knowledge-base-id",
            "K",
            "--data-source-id",
            "D",
            "--runbooks-dir",
            str(runbooks),
        ],
        s3=s3,
        bedrock_agent=fake,
        sleep=lambda s: None,
        out=io.StringIO(),
    )
    assert code == 1


def test_main_dry_run_touches_nothing(s3, runbooks):
    out = io.StringIO()
    code = kb_sync.main(
        [
            "--bucket",
            BUCKET,
            "--knowledge-base-id",
            "K",
            "--data-source-id",
            "D",
            "--dry-run",
            "--runbooks-dir",
            str(runbooks),
        ],
        s3=s3,
        bedrock_agent=None,
        out=out,
    )
    assert code == 0 and keys(s3) == set() and "would upload runbooks/high-cpu.md" in out.getvalue()


def test_main_without_targets_explains(tmp_path, capsys, runbooks):
    code = kb_sync.main(
        ["--stack-dir", str(tmp_path), "--runbooks-dir", str(runbooks)],
        runner=lambda cmd, **kw: completed("{}"),
    )
    assert code == 2
    assert "unknown bucket, knowledge_base_id, data_source_id" in capsys.readouterr().err


def test_main_reports_aws_errors(aws, runbooks, capsys):
    client = boto3.client("s3", region_name="us-east-1")  # bucket does not exist
    code = kb_sync.main(
        [
            "--bucket",
            "missing-bucket",
            "--knowledge-base-id",
            "K",
            "--data-source-id",
            "D",
            "--runbooks-dir",
            str(runbooks),
        ],
        s3=client,
        bedrock_agent=FakeBedrockAgent([{}]),
    )
    assert code == 2 and "NoSuchBucket" in capsys.readouterr().err
