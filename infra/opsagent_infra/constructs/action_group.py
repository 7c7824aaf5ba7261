"""``ActionGroup``: function + role + log group + Bedrock permission + the agent's action group,
the way generative-ai-cdk-constructs' ``agent.addActionGroup`` wires them."""

from __future__ import annotations

import json
from pathlib import Path

from cdktn_aws.bedrock_agents import AwsAgentActionGroup
from cdktn_aws.lambda_ import AwsPermission
from constructs import Construct

from opsagent_infra.constructs.function import OpsAgentFunction

# Stands in for a schema the generator has not written yet; the synth test fails on it.
PLACEHOLDER_MARK = "x-opsagent-placeholder"


def read_schema(path: Path) -> tuple[str, bool]:
    """(payload, is_placeholder). The committed schema is used byte for byte."""
    if path.is_file():
        return path.read_text(), False
    doc = {
        "openapi": "3.0.0",
        "info": {"title": path.stem, "version": "0", PLACEHOLDER_MARK: True},
        "paths": {},
    }
    return json.dumps(doc), True


def count_operations(payload: str) -> int:
    paths = json.loads(payload).get("paths", {})
    verbs = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for ops in paths.values() for verb in ops if verb in verbs)


class ActionGroup(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        agent_id: str,
        agent_arn: str,
        account_id: str,
        group: str,
        description: str,
        schema_path: Path,
        function: OpsAgentFunction,
    ):
        super().__init__(scope, id_)
        self.group = group
        self.description = description
        self.function = function
        self.schema_path = schema_path
        self.schema, self.placeholder = read_schema(schema_path)
        # Only this agent may invoke the function (confused-deputy protection).
        self.permission = AwsPermission(
            self,
            "invoke-by-agent",
            statement_id="AllowThisBedrockAgent",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="bedrock.amazonaws.com",
            source_arn=agent_arn,
            source_account=account_id,
        )
        self.action_group = AwsAgentActionGroup(
            self,
            "action-group",
            action_group_name=group,
            agent_id=agent_id,
            agent_version="DRAFT",
            description=description,
            action_group_state="ENABLED",
            action_group_executor=[AwsAgentActionGroup.ActionGroupExecutorProperty(lambda_=function.arn)],
            api_schema=[AwsAgentActionGroup.ApiSchemaProperty(payload=self.schema)],
            prepare_agent=True,
            skip_resource_in_use_check=True,
            depends_on=[self.permission],
        )

    @property
    def operations(self) -> int:
        return count_operations(self.schema)
