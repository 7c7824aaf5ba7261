"""The AgentCore Gateway front door: Cognito authorizer, gateway role, gateway (MCP), one target per
action group from the catalogue's MCP tool lists, and the Cedar policy engine.

One construct per concern; the gateway role's invoke grant is built in one place
(:meth:`GatewayRole.invoke_statement`) from exactly the functions the targets point at."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cdktn_aws.bedrock_agentcore import AwsGateway, AwsGatewayTarget, AwsPolicy, AwsPolicyEngine
from cdktn_aws.cognito_idp import AwsUserPool, AwsUserPoolClient
from constructs import Construct

from opsagent_infra.constructs.function import OpsAgentFunction
from opsagent_infra.iam import Condition, RoleSpec, ServiceRole, Statement
from opsagent_infra.naming import Arns

AGENTCORE_SERVICE = "bedrock-agentcore.amazonaws.com"


class CognitoAuthorizer(Construct):
    """A user pool (people sign in; no self sign-up) and a public app client for the CLI's
    USER_PASSWORD_AUTH + refresh flow (opsagent_cli/cognito.py): the token's ``sub`` is a person."""

    def __init__(self, scope: Construct, id_: str, *, name: str, region: str, deletion_protection: bool):
        super().__init__(scope, id_)
        self.pool = AwsUserPool(
            self,
            "pool",
            name=name,
            deletion_protection="ACTIVE" if deletion_protection else "INACTIVE",
            admin_create_user_config=AwsUserPool.AdminCreateUserConfigProperty(
                allow_admin_create_user_only=True
            ),
            mfa_configuration="OPTIONAL",
            software_token_mfa_configuration=AwsUserPool.SoftwareTokenMfaConfigurationProperty(enabled=True),
            password_policy=AwsUserPool.PasswordPolicyProperty(
                minimum_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            user_pool_add_ons=AwsUserPool.UserPoolAddOnsProperty(advanced_security_mode="OFF"),
        )
        self.client = AwsUserPoolClient(
            self,
            "cli-client",
            name=f"{name}-cli",
            user_pool_id=self.pool.id,
            generate_secret=False,  # a CLI cannot keep a secret: public client
            explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=12,
            token_validity_units=[
                AwsUserPoolClient.TokenValidityUnitsProperty(
                    access_token="minutes", id_token="minutes", refresh_token="hours"
                )
            ],
            enable_token_revocation=True,
        )
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{self.pool.id}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"

    def configuration(self) -> list[AwsGateway.AuthorizerConfigurationProperty]:
        # Cognito access tokens carry client_id, not aud: allowed_clients is the check.
        return [
            AwsGateway.AuthorizerConfigurationProperty(
                custom_jwt_authorizer=[
                    AwsGateway.CustomJwtAuthorizerProperty(
                        discovery_url=self.discovery_url, allowed_clients=[self.client.id]
                    )
                ]
            )
        ]


class GatewayRole(Construct):
    """Assumed by AgentCore for this account's gateways only; may invoke exactly the target functions."""

    def __init__(self, scope: Construct, id_: str, *, name: str, arns: Arns, gateway_name: str):
        super().__init__(scope, id_)
        source = (
            f"arn:{arns.partition}:bedrock-agentcore:{arns.region}:{arns.account}:gateway/{gateway_name}-*"
        )
        self.service_role = ServiceRole(
            self,
            "role",
            RoleSpec(
                name=name,
                service=AGENTCORE_SERVICE,
                description="OpsAgent gateway: invokes the OpsAgent tool functions",
                trust_conditions=(
                    Condition("StringEquals", "aws:SourceAccount", (arns.account,)),
                    Condition("ArnLike", "aws:SourceArn", (source,)),
                ),
            ),
        )

    @staticmethod
    def invoke_statement(functions: Sequence[OpsAgentFunction]) -> Statement:
        return Statement(
            sid="InvokeToolFunctions",
            actions=("lambda:InvokeFunction",),
            resources=tuple(fn.arn for fn in functions),
        )

    def grant_invoke(self, functions: Sequence[OpsAgentFunction]) -> None:
        self.service_role.add_statements([self.invoke_statement(functions)])

    @property
    def arn(self) -> str:
        return self.service_role.arn


def _input_schema(schema: Mapping) -> list[AwsGatewayTarget.InputSchemaProperty]:
    """The provider's inline_payload input_schema: type object + one property block per field (the
    block has name/type/description/required only: numeric bounds stay enforced by the handler)."""
    required = set(schema.get("required", ()))
    props = [
        AwsGatewayTarget.TargetConfigurationMcpLambdaToolSchemaInlinePayloadInputSchemaPropertyProperty(
            name=name,
            type=spec["type"] if isinstance(spec.get("type"), str) else spec["type"][0],
            description=spec.get("description"),
            required=name in required or None,
        )
        for name, spec in schema.get("properties", {}).items()
    ]
    return [AwsGatewayTarget.InputSchemaProperty(type="object", property=props or None)]


class GatewayTargets(Construct):
    """One Lambda target per action group, its tools the catalogue's MCP list for that group."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        gateway: AwsGateway,
        functions: Mapping[str, OpsAgentFunction],
        tools: Mapping[str, list[dict]],
    ):
        super().__init__(scope, id_)
        self.targets: dict[str, AwsGatewayTarget] = {}
        for group, fn in functions.items():
            self.targets[group] = AwsGatewayTarget(
                self,
                group,
                name=group,
                gateway_identifier=gateway.gateway_id,  # the id, not the ARN (provider issue #47525)
                description=f"OpsAgent {group} tools",
                target_configuration=[
                    AwsGatewayTarget.TargetConfigurationProperty(
                        mcp=[
                            AwsGatewayTarget.McpProperty(
                                lambda_=[
                                    AwsGatewayTarget.LambdaProperty(
                                        lambda_arn=fn.arn,
                                        tool_schema=[
                                            AwsGatewayTarget.ToolSchemaProperty(
                                                inline_payload=[
                                                    AwsGatewayTarget.TargetConfigurationMcpLambdaToolSchemaInlinePayloadProperty(
                                                        name=t["name"],
                                                        description=t["description"],
                                                        input_schema=_input_schema(t["inputSchema"]),
                                                    )
                                                    for t in tools[group]
                                                ]
                                            )
                                        ],
                                    )
                                ]
                            )
                        ]
                    )
                ],
            )


class GatewayPolicyEngine(Construct):
    """The Cedar policy engine and one ``aws_bedrockagentcore_policy`` per generated statement."""

    def __init__(self, scope: Construct, id_: str, *, name: str, key_arn: str, policies: Sequence) -> None:
        super().__init__(scope, id_)
        self.engine = AwsPolicyEngine(
            self,
            "engine",
            name=name,
            description="OpsAgent scaling policy at the gateway",
            encryption_key_arn=key_arn,
        )
        self.policies: list[AwsPolicy] = []
        self.add_policies(policies)

    def add_policies(self, policies: Sequence) -> None:
        for p in policies:
            self.policies.append(
                AwsPolicy(
                    self,
                    p.name,
                    name=p.name,
                    description=p.description[:4096],
                    policy_engine_id=self.engine.policy_engine_id,
                    definition=[
                        AwsPolicy.DefinitionProperty(cedar=[AwsPolicy.CedarProperty(statement=p.statement)])
                    ],
                )
            )

    @property
    def arn(self) -> str:
        return self.engine.policy_engine_arn
