"""Opt-in checks against a real deployment (OPSAGENT_AWS_TESTS=1, after `make deploy`).

They prove what synth cannot: the alias serves the newest agent version, that version carries the
committed instruction and action groups, and the functions are wired as synthesized.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(os.environ.get("OPSAGENT_AWS_TESTS") != "1", reason="needs a real AWS deployment"),
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def outputs() -> dict:
    env = os.environ.get("ENV", "dev")
    out = subprocess.run(
        ["terraform", f"-chdir={REPO / 'cdktf.out' / 'stacks' / f'opsagent-{env}'}", "output", "-json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {k: v["value"] for k, v in json.loads(out).items()}


def test_alias_serves_latest_version_with_committed_instruction(outputs):
    import boto3

    from opsagent_infra.config import load_config

    client = boto3.client("bedrock-agent")
    alias = client.get_agent_alias(agentId=outputs["agent_id"], agentAliasId=outputs["agent_alias_id"])[
        "agentAlias"
    ]
    assert outputs["agent_release"] in alias["description"]
    served = alias["routingConfiguration"][0]["agentVersion"]
    versions = client.list_agent_versions(agentId=outputs["agent_id"])["agentVersionSummaries"]
    numbered = [int(v["agentVersion"]) for v in versions if v["agentVersion"] != "DRAFT"]
    assert int(served) == max(numbered), f"alias serves {served}, newest is {max(numbered)}"
    version = client.get_agent_version(agentId=outputs["agent_id"], agentVersion=served)["agentVersion"]
    cfg = load_config(os.environ.get("ENV", "dev"))
    assert version["instruction"] == cfg.instruction_path.read_text().strip()
    groups = client.list_agent_action_groups(agentId=outputs["agent_id"], agentVersion=served)
    assert sorted(g["actionGroupName"] for g in groups["actionGroupSummaries"]) == sorted(
        outputs["function_names"].keys() - {"trigger"}
    )
