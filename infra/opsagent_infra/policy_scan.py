"""Offline IAM policy analyzer for the synthesized ``cdk.tf.json``.

It reads every policy the stack creates and checks:

identity policies (``aws_iam_role_policy`` -> ``aws_iam_policy_document``)
  * no ``NotAction``/``NotResource``, no wildcard in an action (``*``, ``s3:*``, ``s3:Put*``);
  * a statement on ``Resource: "*"`` grants only read actions (Get*, List*, Describe*, BatchGet*,
    Query, Scan, Search*, Lookup*) or one of the few write actions AWS accepts only on ``"*"``
    (:data:`STAR_ONLY_WRITES`, each with its reason);
  * no write action on an ARN whose region or account is a wildcard;
  * no managed policies (``aws_iam_role_policy_attachment``, ``aws_iam_policy``): every permission
    must be visible in this stack.
trust policies (``aws_iam_role.assume_role_policy``)
  * service principals only; the Bedrock role is bound to this account (``aws:SourceAccount``) and
    to agents (``aws:SourceArn``).
resource policies (``aws_kms_key.policy`` inline, ``aws_sqs_queue_policy``, ``aws_s3_bucket_policy``)
  * an ``Allow`` to a service principal has a condition (source ARN/account, encryption context,
    via-service); an ``Allow`` to an AWS principal never uses ``"*"``.

Usage: ``python infra/policy_scan.py cdktf.out/stacks/opsagent-<env>/cdk.tf.json`` (exit 1 on findings).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Query", "Scan", "Search", "Lookup")
# Write actions that have no resource-level permissions at all (AWS accepts only "*").
STAR_ONLY_WRITES = {
    "xray:PutTraceSegments": "X-Ray trace upload has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray telemetry upload has no resource-level permissions",
}
SERVICE_CONDITION_KEYS = (
    "aws:SourceArn",
    "aws:SourceAccount",
    "kms:ViaService",
    "kms:CallerAccount",
    "kms:EncryptionContext:aws:logs:arn",
    "kms:EncryptionContext:aws:bedrock:arn",
)
_DOC_REF = re.compile(r"^\$\{data\.aws_iam_policy_document\.([^.}]+)\.json\}$")


@dataclass(frozen=True)
class Finding:
    policy: str
    sid: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.policy} [{self.sid}] {self.rule}: {self.detail}"


@dataclass
class PolicyStatement:
    """One statement in a normalized shape, whatever it was written as."""

    sid: str
    effect: str
    actions: list[str]
    resources: list[str]
    principals: dict[str, list[str]] = field(default_factory=dict)
    conditions: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # test -> variable -> values
    not_actions: list[str] = field(default_factory=list)
    not_resources: list[str] = field(default_factory=list)

    @property
    def condition_keys(self) -> set[str]:
        return {var for by_var in self.conditions.values() for var in by_var}


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def from_document(doc: dict) -> list[PolicyStatement]:
    """From an ``aws_iam_policy_document`` data source block."""
    out = []
    for i, st in enumerate(doc.get("statement", [])):
        conditions: dict[str, dict[str, list[str]]] = {}
        for c in st.get("condition", []):
            conditions.setdefault(c["test"], {})[c["variable"]] = _as_list(c["values"])
        principals: dict[str, list[str]] = {}
        for p in st.get("principals", []):
            principals.setdefault(p["type"], []).extend(_as_list(p["identifiers"]))
        out.append(
            PolicyStatement(
                sid=st.get("sid", f"#{i}"),
                effect=st.get("effect", "Allow"),
                actions=_as_list(st.get("actions")),
                resources=_as_list(st.get("resources")),
                principals=principals,
                conditions=conditions,
                not_actions=_as_list(st.get("not_actions")),
                not_resources=_as_list(st.get("not_resources")),
            )
        )
    return out


def from_json_policy(text: str) -> list[PolicyStatement]:
    """From an IAM JSON policy string (Terraform interpolations inside strings are kept as text)."""
    doc = json.loads(text)
    out = []
    for i, st in enumerate(_as_list(doc.get("Statement"))):
        principal = st.get("Principal", {})
        principals = {"AWS": ["*"]} if principal == "*" else {k: _as_list(v) for k, v in principal.items()}
        conditions = {
            test: {var: _as_list(vals) for var, vals in by_var.items()}
            for test, by_var in st.get("Condition", {}).items()
        }
        out.append(
            PolicyStatement(
                sid=st.get("Sid", f"#{i}"),
                effect=st.get("Effect", "Allow"),
                actions=_as_list(st.get("Action")),
                resources=_as_list(st.get("Resource")),
                principals=principals,
                conditions=conditions,
                not_actions=_as_list(st.get("NotAction")),
                not_resources=_as_list(st.get("NotResource")),
            )
        )
    return out


def is_read_action(action: str) -> bool:
    _, _, verb = action.partition(":")
    return verb.startswith(READ_PREFIXES)


def _wildcard_arn(resource: str) -> bool:
    parts = resource.split(":")
    return resource == "*" or (len(parts) >= 5 and (parts[3] == "*" or parts[4] == "*"))


@dataclass
class StackPolicies:
    identity: dict[str, list[PolicyStatement]]  # role resource name -> statements
    trust: dict[str, list[PolicyStatement]]
    resource: dict[str, list[PolicyStatement]]
    managed: list[str]

    @classmethod
    def from_tf(cls, tf: dict) -> StackPolicies:
        docs = tf.get("data", {}).get("aws_iam_policy_document", {})
        res = tf.get("resource", {})

        def resolve(value: str, where: str) -> list[PolicyStatement]:
            m = _DOC_REF.match(value)
            if m:
                if m.group(1) not in docs:
                    raise ValueError(f"{where} references a missing policy document {m.group(1)}")
                return from_document(docs[m.group(1)])
            if value.lstrip().startswith("{"):
                return from_json_policy(value)
            raise ValueError(f"{where}: cannot analyze policy expression {value[:80]!r}")

        identity: dict[str, list[PolicyStatement]] = {}
        for name, block in res.get("aws_iam_role_policy", {}).items():
            role = re.sub(r"^\$\{aws_iam_role\.([^.]+)\.(id|name)\}$", r"\1", block["role"])
            identity.setdefault(role, []).extend(resolve(block["policy"], f"aws_iam_role_policy.{name}"))
        trust = {
            name: resolve(block["assume_role_policy"], f"aws_iam_role.{name}")
            for name, block in res.get("aws_iam_role", {}).items()
        }
        resource: dict[str, list[PolicyStatement]] = {}
        for name, block in res.get("aws_kms_key", {}).items():
            resource[f"aws_kms_key.{name}"] = resolve(block["policy"], f"aws_kms_key.{name}")
        for rtype in ("aws_sqs_queue_policy", "aws_s3_bucket_policy"):
            for name, block in res.get(rtype, {}).items():
                resource[f"{rtype}.{name}"] = resolve(block["policy"], f"{rtype}.{name}")
        managed = [
            f"{t}.{n}"
            for t in ("aws_iam_role_policy_attachment", "aws_iam_policy", "aws_iam_policy_attachment")
            for n in res.get(t, {})
        ]
        for name, block in res.get("aws_iam_role", {}).items():
            if block.get("managed_policy_arns") or block.get("inline_policy"):
                managed.append(f"aws_iam_role.{name} (managed_policy_arns/inline_policy)")
        return cls(identity=identity, trust=trust, resource=resource, managed=managed)

    def actions_of(self, role: str) -> dict[str, list[str]]:
        """action -> resources, for one role (merged over statements; Allow only)."""
        out: dict[str, list[str]] = {}
        for st in self.identity.get(role, []):
            if st.effect == "Allow":
                for a in st.actions:
                    out.setdefault(a, []).extend(st.resources)
        return out


def scan_identity(policy: str, statements: list[PolicyStatement]) -> list[Finding]:
    findings = []
    for st in statements:
        if st.not_actions or st.not_resources:
            findings.append(
                Finding(policy, st.sid, "no-not-elements", "NotAction/NotResource grant too much")
            )
        if st.effect != "Allow":
            continue
        for action in st.actions:
            if "*" in action:
                findings.append(Finding(policy, st.sid, "no-wildcard-actions", action))
        for resource in st.resources:
            if not _wildcard_arn(resource):
                continue
            for action in st.actions:
                if is_read_action(action) or (resource == "*" and action in STAR_ONLY_WRITES):
                    continue
                findings.append(
                    Finding(policy, st.sid, "no-write-on-wildcard-resource", f"{action} on {resource}")
                )
    return findings


def scan_trust(policy: str, statements: list[PolicyStatement]) -> list[Finding]:
    findings = []
    for st in statements:
        if st.effect != "Allow":
            continue
        if set(st.principals) != {"Service"}:
            findings.append(Finding(policy, st.sid, "service-principal-only", f"principals {st.principals}"))
        services = st.principals.get("Service", [])
        if "bedrock.amazonaws.com" in services:
            missing = {"aws:SourceAccount", "aws:SourceArn"} - st.condition_keys
            if missing:
                findings.append(
                    Finding(policy, st.sid, "bedrock-confused-deputy", f"missing {sorted(missing)}")
                )
    return findings


def scan_resource_policy(policy: str, statements: list[PolicyStatement]) -> list[Finding]:
    findings = []
    for st in statements:
        if st.effect != "Allow":
            continue
        if "*" in st.principals.get("AWS", []) or "*" in st.principals.get("*", []):
            findings.append(Finding(policy, st.sid, "no-anonymous-allow", "Allow to principal *"))
        if st.principals.get("Service") and not (st.condition_keys & set(SERVICE_CONDITION_KEYS)):
            findings.append(
                Finding(
                    policy,
                    st.sid,
                    "service-needs-condition",
                    f"{st.principals['Service']} without a source/via-service condition",
                )
            )
    return findings


def scan(tf: dict) -> list[Finding]:
    policies = StackPolicies.from_tf(tf)
    findings = [
        Finding(m, "-", "no-managed-policies", "attach inline least-privilege policies instead")
        for m in policies.managed
    ]
    for role, sts in policies.identity.items():
        findings += scan_identity(f"identity:{role}", sts)
    for role, sts in policies.trust.items():
        findings += scan_trust(f"trust:{role}", sts)
    for name, sts in policies.resource.items():
        findings += scan_resource_policy(f"resource:{name}", sts)
    return findings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: policy_scan.py cdktf.out/stacks/<stack>/cdk.tf.json", file=sys.stderr)
        return 2
    findings = scan(json.loads(Path(argv[0]).read_text()))
    for f in findings:
        print(f)
    print(f"policy scan: {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
