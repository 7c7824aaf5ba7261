"""A Lambda function with its own log group, role and least-privilege policy."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import AssetType, TerraformAsset
from cdktn_aws.cloudwatch_logs import AwsGroup as AwsLogGroup
from cdktn_aws.lambda_ import AwsFunction
from constructs import Construct

from opsagent_infra.config import FunctionSettings
from opsagent_infra.constructs.data import EncryptionKey
from opsagent_infra.iam import Grant, RoleSpec, ServiceRole, Statement, checkov_skip
from opsagent_infra.packaging import ARCHITECTURE, RUNTIME, handler_for

# Checks that do not apply to these functions, each with the reason (see infra/README.md).
CHECKOV_SKIPS = {
    "CKV_AWS_117": "No VPC: the functions call only AWS APIs and the EKS API endpoint; a private-endpoint "
    "cluster needs vpc_config, which this stack does not offer yet",
    "CKV_AWS_272": "No code signing: zips are deployed from local files pinned by source_code_hash; signing "
    "needs an S3 upload + AWS Signer job (not part of this offline build)",
}
UNRESERVED_REASON = (
    "Reserved concurrency is opt-in (functions.*.reserved_concurrency): Lambda rejects any reservation on "
    "accounts at the default limit of 10 concurrent executions, and the scaling policy's cooldown and "
    "incident budget, not concurrency, bound what the agent can change"
)
SYNC_ONLY_DLQ_REASON = (
    "Invoked synchronously by Bedrock (RequestResponse); a Lambda DLQ applies only to asynchronous "
    "invocations, and the agent gets the error body instead"
)


def logs_and_traces(log_group_arn: str) -> list[Statement]:
    """What every function's role starts with: write to its own log group, send X-Ray traces."""
    return [
        Statement(
            sid="WriteOwnLogGroup",
            actions=("logs:CreateLogStream", "logs:PutLogEvents"),
            resources=(f"{log_group_arn}:*",),
        ),
        # X-Ray has no resource-level permissions: these two actions only accept "*".
        Statement(
            sid="XRayTraces", actions=("xray:PutTraceSegments", "xray:PutTelemetryRecords"), resources=("*",)
        ),
    ]


class OpsAgentFunction(Construct):
    """``opsagent.handlers.<name>.lambda_handler`` from ``build/lambda/<name>.zip``.

    Gets: log group ``/aws/lambda/<function>`` (retention + CMK, created before the function so
    Lambda never creates an unencrypted one), a role with only ``statements`` plus logging to its
    own group, X-Ray and decrypt on the CMK; Active tracing; reserved concurrency only when configured
    (opt-in); environment encrypted with the CMK.

    What the code may use is added with :meth:`grant` (statements and environment variables together),
    before or after anything else in the stack is built."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        function_name: str,
        role_name: str,
        description: str,
        settings: FunctionSettings,
        build: dict,
        key: EncryptionKey,
        log_retention_days: int,
        environment: dict[str, str],
        statements: Sequence[Statement] = (),
        grants: Sequence[Grant] = (),
        encrypt_with_key: bool = False,
        dead_letter_arn: str | None = None,
    ):
        super().__init__(scope, id_)
        self.name = name
        self.literal_name = function_name
        self.environment: dict[str, str] = dict(environment)
        self.grants: list[Grant] = []
        self.log_group = AwsLogGroup(
            self,
            "logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=log_retention_days,
            kms_key_id=key.arn,
        )
        base = [
            *logs_and_traces(self.log_group.arn),
            key.decrypt_statement(encrypt=encrypt_with_key),
        ]
        self.role = ServiceRole(
            self,
            "role",
            RoleSpec(
                name=role_name,
                service="lambda.amazonaws.com",
                statements=[*base, *statements],
                description=f"OpsAgent {name} function",
            ),
        )
        asset = TerraformAsset(self, "code", path=build["zip_path"], type=AssetType.FILE)
        self.handler = handler_for(name)
        self.function = AwsFunction(
            self,
            "function",
            function_name=function_name,
            description=description[:256],
            role=self.role.arn,
            handler=self.handler,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            filename=asset.path,
            source_code_hash=build["base64sha256"],
            memory_size=settings.memory_mb,
            timeout=settings.timeout_seconds,
            reserved_concurrent_executions=settings.reserved_concurrency,
            tracing_config=AwsFunction.TracingConfigProperty(mode="Active"),
            environment=AwsFunction.EnvironmentProperty(variables=dict(sorted(self.environment.items()))),
            kms_key_arn=key.arn,
            dead_letter_config=AwsFunction.DeadLetterConfigProperty(target_arn=dead_letter_arn)
            if dead_letter_arn
            else None,
            depends_on=[self.log_group, self.role.policy],
        )
        for check_id, reason in CHECKOV_SKIPS.items():
            checkov_skip(self.function, check_id, reason)
        if not dead_letter_arn:
            checkov_skip(self.function, "CKV_AWS_116", SYNC_ONLY_DLQ_REASON)
        if settings.reserved_concurrency is None:
            checkov_skip(self.function, "CKV_AWS_115", UNRESERVED_REASON)
        self.grant(*grants)

    def grant(self, *grants: Grant) -> None:
        """Give the function what each grant describes: its statements join the role's policy and its
        environment variables the function's environment, in one step. Granting the same thing twice
        is a no-op; two grants that set one variable to different values are an error."""
        for grant in grants:
            if grant in self.grants:
                continue
            for key, value in grant.environment:
                if self.environment.get(key, value) != value:
                    raise ValueError(
                        f"{self.name}: {key} is already {self.environment[key]!r}, a grant sets {value!r}"
                    )
            self.environment.update(grant.environment)
            self.role.add_statements(grant.statements)
            self.grants.append(grant)
        self.function.put_environment(variables=dict(sorted(self.environment.items())))

    @property
    def arn(self) -> str:
        return self.function.arn

    @property
    def function_name(self) -> str:
        return self.function.function_name
