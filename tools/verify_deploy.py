"""After ``terraform apply``: check what Bedrock actually serves (``make verify ENV=…``).

    python -m tools.verify_deploy [--env dev] [--outputs outputs.json] [--stack cdk.tf.json]

The Terraform AWS provider can leave a deployed agent without what the stack declares: an update
to the instruction, model or TTL calls UpdateAgent without the guardrail unless the guardrail block
itself changed (hashicorp/terraform-provider-aws #43849, PR #48681), and an alias created from an
unprepared draft snapshots a version without the knowledge base or a late action group. This
command reads the deployed agent, its alias and the version the alias routes to, and fails loudly
(exit 1, one line per problem) when any of these is missing:

* the agent (DRAFT) and the alias's version are PREPARED; the alias is PREPARED;
* both carry the stack's guardrail (identifier and version from ``terraform output``);
* both hold every action group the synthesized stack declares, ENABLED;
* both hold the knowledge base when the stack associates one, ENABLED.

What is expected comes from the two facts Terraform already has: the synthesized stack
(``cdktf.out/stacks/opsagent-<env>/cdk.tf.json``: action group names, whether a knowledge base is
associated) and ``terraform output -json`` in that directory (agent id, alias id, guardrail id and
version, knowledge base id). Exit codes: 0 verified, 1 problems found, 2 usage/configuration error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "cdktf.out" / "stacks"

ACTION_GROUP_TYPE = "aws_bedrockagent_agent_action_group"
KB_ASSOCIATION_TYPE = "aws_bedrockagent_agent_knowledge_base_association"
AGENT_TYPE = "aws_bedrockagent_agent"


class ConfigError(Exception):
    """The inputs (outputs, stack) do not say what to verify."""


class BedrockAgentClient(Protocol):
    """The five read calls of the ``bedrock-agent`` client this command makes."""

    def get_agent(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_agent_alias(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_agent_version(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_agent_action_groups(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_agent_knowledge_bases(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Expected:
    """What the applied stack should have produced."""

    agent_id: str
    alias_id: str
    guardrail_id: str
    guardrail_version: str
    action_groups: frozenset[str]
    knowledge_base_id: str | None = None


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, condition: bool, what: str, problem: str) -> None:
        (self.checked if condition else self.problems).append(what if condition else problem)


# --- what to expect -------------------------------------------------------------------------------
def _output_value(outputs: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    raw = outputs.get(name)
    value = raw.get("value") if isinstance(raw, Mapping) else raw
    if value in (None, ""):
        if required:
            raise ConfigError(f"terraform output {name!r} is missing: was the stack applied?")
        return None
    return str(value)


def expected_from(outputs: Mapping[str, Any], stack: Mapping[str, Any]) -> Expected:
    """Combine ``terraform output -json`` and the synthesized ``cdk.tf.json``."""
    resources = stack.get("resource", {})
    if not resources.get(AGENT_TYPE):
        raise ConfigError("the synthesized stack declares no Bedrock agent (engine without Classic?)")
    groups: set[str] = set()
    for logical_id, body in resources.get(ACTION_GROUP_TYPE, {}).items():
        name = body.get("action_group_name")
        if not isinstance(name, str) or "${" in name:
            raise ConfigError(f"action group {logical_id} has no literal action_group_name to check")
        groups.add(name)
    if not groups:
        raise ConfigError("the synthesized stack declares no action group")
    wants_kb = bool(resources.get(KB_ASSOCIATION_TYPE))
    return Expected(
        agent_id=_output_value(outputs, "agent_id") or "",
        alias_id=_output_value(outputs, "agent_alias_id") or "",
        guardrail_id=_output_value(outputs, "guardrail_id") or "",
        guardrail_version=_output_value(outputs, "guardrail_version") or "",
        action_groups=frozenset(groups),
        knowledge_base_id=_output_value(outputs, "knowledge_base_id") if wants_kb else None,
    )


# --- what Bedrock serves --------------------------------------------------------------------------
def _pages(call: Any, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return


def _guardrail_matches(config: Mapping[str, Any] | None, expected: Expected) -> bool:
    if not config:
        return False
    identifier = str(config.get("guardrailIdentifier", ""))
    # Bedrock answers with the id or the ARN (…:guardrail/<id>) depending on how it was set.
    same_id = identifier == expected.guardrail_id or identifier.endswith(f"/{expected.guardrail_id}")
    return same_id and str(config.get("guardrailVersion", "")) == expected.guardrail_version


def _check_contents(client: BedrockAgentClient, expected: Expected, version: str, report: Report) -> None:
    label = "DRAFT" if version == "DRAFT" else f"version {version}"
    groups = {
        g["actionGroupName"]: g["actionGroupState"]
        for g in _pages(
            client.list_agent_action_groups,
            "actionGroupSummaries",
            agentId=expected.agent_id,
            agentVersion=version,
        )
    }
    for name in sorted(expected.action_groups):
        state = groups.get(name)
        report.check(
            state == "ENABLED",
            f"{label}: action group {name} ENABLED",
            f"{label}: action group {name} is {'missing' if state is None else state}",
        )
    if expected.knowledge_base_id:
        kbs = {
            k["knowledgeBaseId"]: k["knowledgeBaseState"]
            for k in _pages(
                client.list_agent_knowledge_bases,
                "agentKnowledgeBaseSummaries",
                agentId=expected.agent_id,
                agentVersion=version,
            )
        }
        kb_id = expected.knowledge_base_id
        state = kbs.get(kb_id)
        report.check(
            state == "ENABLED",
            f"{label}: knowledge base {kb_id} ENABLED",
            f"{label}: knowledge base {kb_id} is {'missing' if state is None else state}",
        )


def verify(client: BedrockAgentClient, expected: Expected) -> Report:
    report = Report()
    agent = client.get_agent(agentId=expected.agent_id)["agent"]
    report.check(
        agent.get("agentStatus") == "PREPARED",
        "DRAFT: PREPARED",
        f"DRAFT: agent status is {agent.get('agentStatus')} (expected PREPARED)",
    )
    report.check(
        _guardrail_matches(agent.get("guardrailConfiguration"), expected),
        "DRAFT: guardrail attached",
        f"DRAFT: guardrail {expected.guardrail_id} v{expected.guardrail_version} is not attached "
        f"(found {agent.get('guardrailConfiguration') or 'none'})",
    )
    _check_contents(client, expected, "DRAFT", report)

    alias = client.get_agent_alias(agentId=expected.agent_id, agentAliasId=expected.alias_id)["agentAlias"]
    report.check(
        alias.get("agentAliasStatus") == "PREPARED",
        f"alias {expected.alias_id}: PREPARED",
        f"alias {expected.alias_id}: status is {alias.get('agentAliasStatus')} (expected PREPARED)",
    )
    routes = [r.get("agentVersion") for r in alias.get("routingConfiguration", []) if r.get("agentVersion")]
    if len(routes) != 1 or routes[0] == "DRAFT":
        report.problems.append(
            f"alias {expected.alias_id}: routes to {routes or 'nothing'} (expected one numbered version)"
        )
        return report
    version = routes[0]
    snapshot = client.get_agent_version(agentId=expected.agent_id, agentVersion=version)["agentVersion"]
    report.check(
        snapshot.get("agentStatus") == "PREPARED",
        f"version {version}: PREPARED",
        f"version {version}: status is {snapshot.get('agentStatus')} (expected PREPARED)",
    )
    report.check(
        _guardrail_matches(snapshot.get("guardrailConfiguration"), expected),
        f"version {version}: guardrail attached",
        f"version {version}: guardrail {expected.guardrail_id} v{expected.guardrail_version} is not "
        f"attached (found {snapshot.get('guardrailConfiguration') or 'none'}); the alias serves it",
    )
    _check_contents(client, expected, version, report)
    return report


# --- command line ---------------------------------------------------------------------------------
def _terraform_outputs(stack_dir: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(
            ["terraform", f"-chdir={stack_dir}", "output", "-json"],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"cannot read terraform outputs in {stack_dir}: {exc}") from exc
    outputs: dict[str, Any] = json.loads(done.stdout or "{}")
    return outputs


def _region(stack: Mapping[str, Any]) -> str | None:
    providers = stack.get("provider", {}).get("aws", [])
    first = providers[0] if isinstance(providers, list) and providers else providers
    return first.get("region") if isinstance(first, Mapping) else None


def main(
    argv: Sequence[str] | None = None, *, client: BedrockAgentClient | None = None, out: TextIO = sys.stdout
) -> int:
    parser = argparse.ArgumentParser(prog="make verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--stack", type=Path, help="cdk.tf.json (default: the env's synthesized stack)")
    parser.add_argument("--outputs", type=Path, help="a saved `terraform output -json` (default: run it)")
    args = parser.parse_args(argv)
    stack_dir = STACKS / f"opsagent-{args.env}"
    try:
        stack_file = args.stack or stack_dir / "cdk.tf.json"
        if not stack_file.is_file():
            raise ConfigError(f"{stack_file} not found: run `make synth ENV={args.env}` first")
        stack = json.loads(stack_file.read_text())
        outputs = json.loads(args.outputs.read_text()) if args.outputs else _terraform_outputs(stack_dir)
        expected = expected_from(outputs, stack)
    except (ConfigError, OSError, json.JSONDecodeError) as exc:
        print(f"verify: {exc}", file=out)
        return 2
    if client is None:
        import boto3

        client = boto3.client("bedrock-agent", region_name=_region(stack))
    report = verify(client, expected)
    for line in report.checked:
        print(f"  ok   {line}", file=out)
    for line in report.problems:
        print(f"  FAIL {line}", file=out)
    if report.ok:
        print(f"verify: agent {expected.agent_id} alias {expected.alias_id}: everything in place", file=out)
        return 0
    print(
        f"verify: {len(report.problems)} problem(s); the alias does not serve what the stack declares",
        file=out,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
