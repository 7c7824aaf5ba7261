"""IAM building blocks: statements as plain data, rendered as ``aws_iam_policy_document`` data
sources (so every policy is visible as structured JSON in ``cdk.tf.json`` for the policy scanner
and checkov), and the least-privilege execution role every function gets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from cdktn import TerraformResource
from cdktn_aws.iam import AwsRole, AwsRolePolicy, DataAwsPolicyDocument
from constructs import Construct


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    principals: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (("Service", ("bedrock.amazonaws.com",)),)
    effect: str = "Allow"

    def render(self) -> DataAwsPolicyDocument.StatementProperty:
        return DataAwsPolicyDocument.StatementProperty(
            sid=self.sid,
            effect=self.effect,
            actions=list(self.actions),
            resources=list(self.resources) or None,
            principals=[
                DataAwsPolicyDocument.PrincipalsProperty(type=t, identifiers=list(ids))
                for t, ids in self.principals
            ]
            or None,
            condition=[
                DataAwsPolicyDocument.ConditionProperty(
                    test=c.test, variable=c.variable, values=list(c.values)
                )
                for c in self.conditions
            ]
            or None,
        )

    def as_json_dict(self) -> dict:
        """IAM JSON form (for resource policies written inline, e.g. the KMS key policy)."""
        out: dict = {"Sid": self.sid, "Effect": self.effect}
        for ptype, ids in self.principals:
            out.setdefault("Principal", {})[ptype] = ids[0] if len(ids) == 1 else list(ids)
        out["Action"] = self.actions[0] if len(self.actions) == 1 else list(self.actions)
        out["Resource"] = self.resources[0] if len(self.resources) == 1 else list(self.resources)
        for c in self.conditions:
            out.setdefault("Condition", {}).setdefault(c.test, {})[c.variable] = (
                c.values[0] if len(c.values) == 1 else list(c.values)
            )
        return out


@dataclass(frozen=True)
class Grant:
    """What a function needs to use one thing: the policy statements AND the environment variables that
    tell the code where it is, declared together so they cannot drift apart. Resources hand them out
    (``table.grant_append()``, ``agent.grant_invoke()``, ...) and ``OpsAgentFunction.grant()`` applies
    both halves in one call, in any order, as often as the same grant is given."""

    statements: tuple[Statement, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, *statements: Statement, **environment: str) -> Grant:
        return cls(statements=tuple(statements), environment=tuple(sorted(environment.items())))


def inline_policy(statements: list[Statement]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [s.as_json_dict() for s in statements]})


def checkov_skip(resource: TerraformResource, check_id: str, reason: str) -> None:
    """A per-resource checkov suppression written next to the resource in cdk.tf.json (checkov reads
    ``checkov:skip=<id>:<reason>`` from the resource's lines); every skip carries its reason."""
    if not reason.strip():
        raise ValueError(f"a reason is required to skip {check_id}")
    resource.add_override(f"//.checkov_{check_id}", f"checkov:skip={check_id}:{reason}")


def _check_sids(where: str, statements: list[Statement]) -> None:
    sids = [s.sid for s in statements]
    if len(set(sids)) != len(sids):
        raise ValueError(f"duplicate statement ids in {where}: {sids}")


def policy_document(scope: Construct, id_: str, statements: list[Statement]) -> DataAwsPolicyDocument:
    _check_sids(id_, statements)
    return DataAwsPolicyDocument(scope, id_, statement=[s.render() for s in statements])


@dataclass
class RoleSpec:
    name: str
    service: str
    statements: list[Statement] = field(default_factory=list)
    trust_conditions: tuple[Condition, ...] = ()
    description: str = ""


class ServiceRole(Construct):
    """A role assumable by one AWS service principal, with one inline least-privilege policy and no
    managed policies (every permission is visible in this stack)."""

    def __init__(self, scope: Construct, id_: str, spec: RoleSpec):
        super().__init__(scope, id_)
        trust = policy_document(
            self,
            "trust",
            [
                Statement(
                    sid="AssumeBy"
                    + "".join(
                        w.capitalize() for w in spec.service.split(".")[0].split("-")
                    ),  # Sid: alphanumeric
                    actions=("sts:AssumeRole",),
                    principals=(("Service", (spec.service,)),),
                    conditions=spec.trust_conditions,
                )
            ],
        )
        self.role = AwsRole(
            self,
            "role",
            name=spec.name,
            description=spec.description or None,
            assume_role_policy=trust.json,
            max_session_duration=3600,
        )
        self.statements = list(spec.statements)
        self.document = policy_document(self, "permissions", self.statements)
        self.policy = AwsRolePolicy(
            self, "policy", name="least-privilege", role=self.role.id, policy=self.document.json
        )

    def add_statements(self, statements: Sequence[Statement]) -> None:
        """Extend the role's one inline policy (grants may come after the role exists, e.g. the agent's
        ``bedrock:Retrieve`` on a knowledge base that needs the agent's id). A statement already in the
        policy is not added twice; a different statement under a used Sid is an error."""
        merged = list(self.statements)
        for statement in statements:
            if statement not in merged:
                merged.append(statement)
        _check_sids(self.node.path, merged)
        self.statements = merged
        self.document.put_statement([s.render() for s in merged])

    @property
    def arn(self) -> str:
        return self.role.arn
