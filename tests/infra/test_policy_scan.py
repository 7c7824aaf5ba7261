"""The policy analyzer itself: it must catch what it claims to catch."""

from __future__ import annotations

import json

from opsagent_infra.policy_scan import is_read_action, scan


def _doc(*statements) -> dict:
    return {"statement": list(statements)}


def _stack(identity=None, trust=None, kms_policy=None, extra_resources=None) -> dict:
    docs = {"perm": _doc(*(identity or [])), "trust": _doc(*(trust or [_lambda_trust()]))}
    res = {
        "aws_iam_role": {"r": {"assume_role_policy": "${data.aws_iam_policy_document.trust.json}"}},
        "aws_iam_role_policy": {
            "p": {"role": "${aws_iam_role.r.id}", "policy": "${data.aws_iam_policy_document.perm.json}"}
        },
    }
    if kms_policy is not None:
        res["aws_kms_key"] = {"k": {"policy": json.dumps(kms_policy)}}
    res.update(extra_resources or {})
    return {"data": {"aws_iam_policy_document": docs}, "resource": res}


def _lambda_trust():
    return {
        "effect": "Allow",
        "actions": ["sts:AssumeRole"],
        "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
    }


def _allow(actions, resources, sid="S"):
    return {"sid": sid, "effect": "Allow", "actions": actions, "resources": resources}


def rules(findings):
    return sorted({f.rule for f in findings})


def test_read_actions():
    assert all(
        map(is_read_action, ["s3:GetObject", "ec2:DescribeInstances", "dynamodb:Query", "logs:ListTags"])
    )
    assert not any(
        map(is_read_action, ["s3:PutObject", "iam:PassRole", "dynamodb:UpdateItem", "kms:Decrypt"])
    )


def test_clean_policy_has_no_findings():
    stack = _stack(
        [
            _allow(["cloudwatch:GetMetricData"], ["*"]),
            _allow(["xray:PutTraceSegments"], ["*"], "X"),
            _allow(["dynamodb:PutItem"], ["arn:aws:dynamodb:us-east-1:123456789012:table/t"], "D"),
        ]
    )
    assert scan(stack) == []


def test_write_action_on_star_is_found():
    findings = scan(_stack([_allow(["cloudwatch:GetMetricData", "dynamodb:PutItem"], ["*"])]))
    assert rules(findings) == ["no-write-on-wildcard-resource"]
    assert "dynamodb:PutItem on *" in findings[0].detail


def test_write_on_wildcard_account_or_region_is_found():
    findings = scan(_stack([_allow(["dynamodb:PutItem"], ["arn:aws:dynamodb:*:*:table/t"])]))
    assert rules(findings) == ["no-write-on-wildcard-resource"]


def test_wildcard_actions_and_not_elements_are_found():
    st = {"sid": "N", "effect": "Allow", "not_actions": ["iam:*"], "resources": ["*"]}
    findings = scan(_stack([_allow(["s3:*"], ["arn:aws:s3:::b"]), st]))
    assert rules(findings) == ["no-not-elements", "no-wildcard-actions"]


def test_bedrock_trust_without_confused_deputy_conditions_is_found():
    trust = {
        "effect": "Allow",
        "actions": ["sts:AssumeRole"],
        "principals": [{"type": "Service", "identifiers": ["bedrock.amazonaws.com"]}],
        "condition": [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]}],
    }
    findings = scan(_stack(trust=[trust]))
    assert rules(findings) == ["bedrock-confused-deputy"] and "aws:SourceArn" in findings[0].detail


def test_resource_policy_rules():
    kms = {
        "Statement": [
            {"Sid": "Anon", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
            {
                "Sid": "Svc",
                "Effect": "Allow",
                "Principal": {"Service": "logs.amazonaws.com"},
                "Action": "kms:Encrypt",
                "Resource": "*",
            },
            {"Sid": "Deny", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        ]
    }
    assert rules(scan(_stack(kms_policy=kms))) == ["no-anonymous-allow", "service-needs-condition"]


def test_bucket_policies_are_scanned():
    public = {
        "Statement": [
            {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        ]
    }
    extra = {"aws_s3_bucket_policy": {"b": {"bucket": "x", "policy": json.dumps(public)}}}
    findings = scan(_stack(extra_resources=extra))
    assert [(f.policy, f.sid, f.rule) for f in findings] == [
        ("resource:aws_s3_bucket_policy.b", "Public", "no-anonymous-allow")
    ]


def test_managed_policies_are_found():
    extra = {
        "aws_iam_role_policy_attachment": {"admin": {"role": "r", "policy_arn": "arn:aws:iam::aws:policy/X"}}
    }
    assert rules(scan(_stack(extra_resources=extra))) == ["no-managed-policies"]


def test_synthesized_stack_has_no_findings(stack):
    findings = scan(stack)
    assert findings == [], "\n".join(map(str, findings))
