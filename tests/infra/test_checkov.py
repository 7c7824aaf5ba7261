"""checkov over the synthesized JSON: zero failures except reasoned, per-resource skips in code."""

from __future__ import annotations

import json
import os

import pytest

from opsagent_infra.checkov_gate import reconcile, run_checkov


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
