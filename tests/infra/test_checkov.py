"""checkov over the synthesized JSON: zero failures except reasoned, per-resource skips in code."""

from __future__ import annotations

import json
import os

import pytest

from opsagent_infra.checkov_gate import CheckovParseError, _run, checkov_input, reconcile, run_checkov


@pytest.fixture(scope="module")
def checkov() -> str:
    path = os.environ.get("CHECKOV")
    if not path:
        pytest.skip("CHECKOV is not set: run via `make test` (it creates .venv-checkov and sets CHECKOV)")
    if not os.path.exists(path):
        pytest.fail(f"CHECKOV={path} does not exist")
    return path


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_checkov_has_no_unexplained_failures(checkov, synth_results, env):
    """dev: knowledge base off; prod: the stack creates it (bucket, collection, bootstrap Lambda...)."""
    result = synth_results[env]
    report = run_checkov(checkov, result.tf_json)
    gate = reconcile(report, json.loads(result.tf_json.read_text()))
    assert gate.passed > 100, "checkov ran suspiciously few checks"
    assert not gate.failed, "checkov failures:\n" + "\n".join(gate.failed)
    assert not gate.stale, "stale checkov skips:\n" + "\n".join(gate.stale)
    assert not gate.bad_reasons, "\n".join(gate.bad_reasons)


def test_gate_rejects_unannotated_failures_and_stale_skips():
    tf = {
        "resource": {
            "aws_lambda_function": {
                "f": {
                    "//": {
                        "checkov_CKV_AWS_117": "checkov:skip=CKV_AWS_117:a reason that is long enough here"
                    }
                },
                "g": {"//": {"checkov_CKV_AWS_272": "checkov:skip=CKV_AWS_272:short"}},
            }
        }
    }
    report = {
        "summary": {"passed": 3},
        "results": {
            "failed_checks": [
                {"check_id": "CKV_AWS_117", "resource": "resource.f", "check_name": "vpc"},
                {"check_id": "CKV_AWS_116", "resource": "resource.f", "check_name": "dlq"},
                {"check_id": "CKV_AWS_272", "resource": "resource.g", "check_name": "signing"},
            ]
        },
    }
    gate = reconcile(report, tf)
    assert [s.split(" ")[0] for s in gate.suppressed] == ["CKV_AWS_117", "CKV_AWS_272"]
    assert gate.failed == ["CKV_AWS_116 resource.f: dlq"]
    assert gate.bad_reasons and not gate.ok
    report["results"]["failed_checks"] = []
    assert len(reconcile(report, tf).stale) == 2


def test_gate_maps_type_qualified_names_to_the_annotated_resource():
    """checkov names some entities ``<type>.<name>`` (e.g. S3 bucket checks); their in-code skips count."""
    reason = "checkov:skip=CKV_AWS_18:runbook documents only, no access logging needed here"
    tf = {
        "resource": {
            "aws_s3_bucket": {"kb_bucket": {"//": {"checkov_CKV_AWS_18": reason}}},
            "aws_sqs_queue": {"q": {}},
        }
    }
    report = {
        "summary": {"passed": 1},
        "results": {
            "failed_checks": [
                {"check_id": "CKV_AWS_18", "resource": "aws_s3_bucket.kb_bucket", "check_name": "logging"},
                # the type must match: a same-named entity of another type is not the annotated one
                {"check_id": "CKV_AWS_18", "resource": "aws_sqs_queue.kb_bucket", "check_name": "logging"},
                # an unannotated resource named by type still fails
                {"check_id": "CKV_AWS_27", "resource": "aws_sqs_queue.q", "check_name": "encryption"},
            ]
        },
    }
    gate = reconcile(report, tf)
    assert [s.split(" -- ")[0] for s in gate.suppressed] == ["CKV_AWS_18 aws_s3_bucket.kb_bucket: logging"]
    assert gate.failed == [
        "CKV_AWS_18 aws_sqs_queue.kb_bucket: logging",
        "CKV_AWS_27 aws_sqs_queue.q: encryption",
    ]
    assert not gate.stale


def test_required_version_is_hidden_from_checkov_only(checkov, synth_results):
    """checkov 3.3.30 cannot parse ``terraform.required_version`` (checkov#7454): scanned raw, the
    stack is one parsing error and zero checks. If this starts failing, checkov is fixed: drop
    ``checkov_input``."""
    tf_json = synth_results["dev"].tf_json
    tf = json.loads(tf_json.read_text())
    assert tf["terraform"]["required_version"]
    assert _run(checkov, tf_json)["summary"]["parsing_errors"] == 1
    scanned = checkov_input(tf)
    assert "required_version" not in scanned["terraform"]
    assert {k: v for k, v in scanned.items() if k != "terraform"} == {
        k: v for k, v in tf.items() if k != "terraform"
    }
    assert scanned["terraform"]["required_providers"] == tf["terraform"]["required_providers"]


def test_a_parsing_error_fails_the_gate_instead_of_an_empty_pass(tmp_path):
    fake = tmp_path / "checkov"
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 1}
    fake.write_text(
        "#!/bin/sh\necho '"
        + json.dumps({"check_type": "terraform_json", "summary": summary, "results": {}})
        + "'\n"
    )
    fake.chmod(0o755)
    stack = tmp_path / "cdk.tf.json"
    stack.write_text(json.dumps({"terraform": {"required_version": ">= 1.11"}, "resource": {}}))
    with pytest.raises(CheckovParseError, match="1 parsing error"):
        run_checkov(str(fake), stack)
