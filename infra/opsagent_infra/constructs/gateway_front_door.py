"""``GatewayFrontDoor``: the gateway concern of the stack, assembled from constructs/gateway.py.

Output names are the ones the CLI reads with ``--from-terraform`` (opsagent_cli/gateway_cmd.py):
``gateway_url``, ``gateway_authorizer_type``, ``cognito_user_client_id``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from cdktn_aws.bedrock_agentcore import AwsGateway
from constructs import Construct

from opsagent_infra import REPO_ROOT
from opsagent_infra.config import OpsAgentConfig, _ensure_lambdas_importable
from opsagent_infra.constructs.data import EncryptionKey
from opsagent_infra.constructs.function import OpsAgentFunction
from opsagent_infra.constructs.gateway import (
    CognitoAuthorizer,
    GatewayPolicyEngine,
    GatewayRole,
    GatewayTargets,
)
from opsagent_infra.naming import Arns

MCP_SCHEMAS_DIR = REPO_ROOT / "schemas" / "mcp"


def mcp_tools(group: str) -> list[dict]:
    """The committed, generated MCP tool list of one action group (``make schemas``)."""
    return json.loads((MCP_SCHEMAS_DIR / f"{group}.json").read_text())


class GatewayFrontDoor(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: OpsAgentConfig,
        arns: Arns,
        key: EncryptionKey,
        functions: Mapping[str, OpsAgentFunction],
    ):
        super().__init__(scope, id_)
        cfg = config.gateway
        prefix = config.name_prefix
        self.authorizer_type = cfg.authorizer
        self.authorizer: CognitoAuthorizer | None = None
        if cfg.authorizer == "CUSTOM_JWT":
            self.authorizer = CognitoAuthorizer(
                self,
                "authorizer",
                name=f"{prefix}-gateway",
                region=config.region,
                deletion_protection=config.data.deletion_protection,
            )
        self.role = GatewayRole(
            self, "role", name=f"{prefix}-gateway", arns=arns, gateway_name=f"{prefix}-gw"
        )
        self.role.grant_invoke(list(functions.values()))  # exactly the target functions, no wildcard

        _ensure_lambdas_importable()
        from opsagent.gateway_policy.cedar import GatewayPolicyConfig, generate
        from opsagent.gateway_policy.tools import default_tools
        from opsagent.scaling.policy import ScalingPolicy

        # The engine exists before the gateway (the gateway names it); the Cedar statements name the
        # gateway's ARN, so the policies are created after the gateway.
        self.policy = GatewayPolicyEngine(
            self, "policy-engine", name=f"{prefix}-gw".replace("-", "_"), key_arn=key.arn, policies=()
        )
        self.gateway = AwsGateway(
            self,
            "gateway",
            name=f"{prefix}-gw",
            description=f"OpsAgent tools over MCP ({config.env})",
            protocol_type="MCP",
            protocol_configuration=[
                AwsGateway.ProtocolConfigurationProperty(
                    mcp=[AwsGateway.McpProperty(supported_versions=["2025-03-26"])]
                )
            ],
            authorizer_type=cfg.authorizer,
            authorizer_configuration=self.authorizer.configuration() if self.authorizer else None,
            role_arn=self.role.arn,
            kms_key_arn=key.arn,
            exception_level="DEBUG" if config.env == "dev" else None,
            policy_engine_configuration=[
                AwsGateway.PolicyEngineConfigurationProperty(arn=self.policy.arn, mode=cfg.policy_mode)
            ],
        )
        self.bundle = generate(
            ScalingPolicy.model_validate(config.scaling_policy),
            default_tools(),
            gateway_arn=self.gateway.gateway_arn,
            authorizer=cfg.authorizer,
            config=GatewayPolicyConfig(policy_mode=cfg.policy_mode),
            name_prefix=prefix,
        )
        self.policy.add_policies(self.bundle.policies)
        self.targets = GatewayTargets(
            self,
            "targets",
            gateway=self.gateway,
            functions=functions,
            tools={g: mcp_tools(g) for g in functions},
        )

    def outputs(self) -> dict:
        out: dict = {
            "gateway_id": self.gateway.gateway_id,
            "gateway_url": self.gateway.gateway_url,
            "gateway_authorizer_type": self.authorizer_type,
            "gateway_policy_engine_arn": self.policy.arn,
        }
        if self.authorizer:
            out.update(
                cognito_user_pool_id=self.authorizer.pool.id,
                cognito_user_client_id=self.authorizer.client.id,
                cognito_issuer=self.authorizer.issuer,
                cognito_discovery_url=self.authorizer.discovery_url,
            )
        return out
