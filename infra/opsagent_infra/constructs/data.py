"""The customer-managed KMS key and the DynamoDB tables (audit, state, tickets)."""

from __future__ import annotations

from cdktn_aws.dynamodb import AwsTable
from cdktn_aws.kms import AwsAlias, AwsKey
from constructs import Construct

from opsagent_infra.iam import Condition, Grant, Statement, inline_policy
from opsagent_infra.naming import Arns, Names

# Item-level actions only: no Scan, no table management, no batch writes.
TABLE_READ = ("dynamodb:GetItem", "dynamodb:Query")
TABLE_APPEND = (*TABLE_READ, "dynamodb:PutItem", "dynamodb:ConditionCheckItem")
TABLE_READ_WRITE = (*TABLE_APPEND, "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class EncryptionKey(Construct):
    """One CMK for logs, tables, the agent, the guardrail, Lambda environments and the DLQ.

    Key policy: the account root (so IAM policies decide, as usual); CloudWatch Logs for this
    stack's log groups only (encryption-context condition); Bedrock and DynamoDB only when called
    through those services by principals of this account (kms:ViaService + kms:CallerAccount);
    EventBridge only for the alarm rule's dead-letter queue (aws:SourceArn)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        names: Names,
        arns: Arns,
        deletion_window_days: int,
        agentcore: bool = False,
    ):
        super().__init__(scope, id_)
        region, account = arns.region, arns.account
        via = lambda service: (  # noqa: E731
            Condition("StringEquals", "kms:ViaService", (f"{service}.{region}.amazonaws.com",)),
            Condition("StringEquals", "kms:CallerAccount", (account,)),
        )
        # A key policy is a resource policy ("*" = this key), so it is written inline on the key rather
        # than as an aws_iam_policy_document (whose checks assume identity policies); the policy
        # scanner checks its principals and conditions.
        self.statements = [
            Statement(
                sid="AccountRootManagesKeyViaIam",
                actions=("kms:*",),
                resources=("*",),
                principals=(("AWS", (arns.root,)),),
            ),
            Statement(
                sid="CloudWatchLogsForThisStack",
                actions=(
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ),
                resources=("*",),
                principals=(("Service", (f"logs.{region}.amazonaws.com",)),),
                conditions=(
                    Condition(
                        "ArnLike",
                        "kms:EncryptionContext:aws:logs:arn",
                        (arns.log_group_pattern(names.prefix),),
                    ),
                ),
            ),
            Statement(
                sid="BedrockThroughServiceInThisAccount",
                actions=("kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"),
                resources=("*",),
                principals=(("AWS", (arns.root,)),),
                conditions=via("bedrock"),
            ),
            # Bedrock agent encryption guide (cmk-agent-resources.html / encryption-agents.html): the
            # bedrock.amazonaws.com principal, bound to this account and to agents by the encryption
            # context Bedrock sends (aws:bedrock:arn). Agent ids are unknown before the key exists, so
            # the agent ARN pattern of this account and region.
            Statement(
                sid="BedrockAgentResourcesForThisAccount",
                actions=("kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"),
                resources=("*",),
                principals=(("Service", ("bedrock.amazonaws.com",)),),
                conditions=(
                    Condition("StringEquals", "aws:SourceAccount", (account,)),
                    Condition("ArnLike", "kms:EncryptionContext:aws:bedrock:arn", (arns.agent_pattern(),)),
                ),
            ),
            Statement(
                sid="DynamoDbThroughServiceInThisAccount",
                actions=(
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                ),
                resources=("*",),
                principals=(("AWS", (arns.root,)),),
                conditions=via("dynamodb"),
            ),
            Statement(
                sid="EventBridgeToTriggerDlq",
                actions=("kms:Decrypt", "kms:GenerateDataKey"),
                resources=("*",),
                principals=(("Service", ("events.amazonaws.com",)),),
                conditions=(
                    Condition(
                        "ArnEquals",
                        "aws:SourceArn",
                        (f"arn:{arns.partition}:events:{region}:{account}:rule/{names.alarm_rule}",),
                    ),
                ),
            ),
        ]
        if agentcore:  # the gateway and its policy engine (gateway.enabled) encrypt with this key
            self.statements.append(
                Statement(
                    sid="AgentCoreThroughServiceInThisAccount",
                    actions=("kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"),
                    resources=("*",),
                    principals=(("AWS", (arns.root,)),),
                    conditions=via("bedrock-agentcore"),
                )
            )
        self.key = AwsKey(
            self,
            "key",
            description=f"OpsAgent ({names.prefix}): logs, tables, agent, guardrail, Lambda env, DLQ",
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
            policy=inline_policy(self.statements),
        )
        AwsAlias(self, "alias", name=names.key_alias, target_key_id=self.key.key_id)

    @property
    def arn(self) -> str:
        return self.key.arn

    def decrypt_statement(self, *, encrypt: bool = False) -> Statement:
        actions = ("kms:Decrypt", "kms:GenerateDataKey") if encrypt else ("kms:Decrypt",)
        return Statement(sid="UseStackKey", actions=actions, resources=(self.arn,))


class Table(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        hash_key: str,
        range_key: str | None,
        key: EncryptionKey,
        deletion_protection: bool,
        env_var: str,
        sid_prefix: str,
        ttl_attribute: str | None = None,
        indexes: tuple[tuple[str, str, str | None], ...] = (),
    ):
        super().__init__(scope, id_)
        self.env_var = env_var  # where the functions' code reads this table's name
        self.sid_prefix = sid_prefix
        attrs = {hash_key, *([range_key] if range_key else [])}
        for _, h, r in indexes:
            attrs |= {h, *([r] if r else [])}
        self.table = AwsTable(
            self,
            "table",
            name=name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key,
            range_key=range_key,
            attribute=[AwsTable.AttributeProperty(name=a, type="S") for a in sorted(attrs)],
            global_secondary_index=[
                AwsTable.GlobalSecondaryIndexProperty(name=n, hash_key=h, range_key=r, projection_type="ALL")
                for n, h, r in indexes
            ]
            or None,
            server_side_encryption=AwsTable.ServerSideEncryptionProperty(enabled=True, kms_key_arn=key.arn),
            point_in_time_recovery=AwsTable.PointInTimeRecoveryProperty(enabled=True),
            ttl=AwsTable.TtlProperty(enabled=True, attribute_name=ttl_attribute) if ttl_attribute else None,
            deletion_protection_enabled=deletion_protection,
        )

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def arn(self) -> str:
        return self.table.arn

    def statement(self, sid: str, actions: tuple[str, ...]) -> Statement:
        """Item-level access to this table (and its indexes, for Query)."""
        return Statement(sid=sid, actions=actions, resources=(self.arn, f"{self.arn}/index/*"))

    def _grant(self, suffix: str, actions: tuple[str, ...]) -> Grant:
        return Grant.of(
            self.statement(f"{self.sid_prefix}Table{suffix}", actions), **{self.env_var: self.name}
        )

    def grant_append(self) -> Grant:
        """Read and add items (no update/delete): the audit trail's access."""
        return self._grant("Append", TABLE_APPEND)

    def grant_read_write(self) -> Grant:
        return self._grant("Items", TABLE_READ_WRITE)


class Tables(Construct):
    """Keys from the lambdas' one schema module (``opsagent.dynamo.tables``): audit (incident_id, sk),
    state (pk, sk), tickets (ticket_id + GSIs) -- the same schemas the tests and the drill create."""

    def __init__(
        self, scope: Construct, id_: str, *, names: Names, key: EncryptionKey, deletion_protection: bool
    ):
        super().__init__(scope, id_)
        from opsagent.dynamo import tables

        common = {"key": key, "deletion_protection": deletion_protection}

        def table(kind: str, schema: tables.TableSchema, env_var: str, sid_prefix: str) -> Table:
            return Table(
                self,
                kind,
                name=names.table(kind),
                env_var=env_var,
                sid_prefix=sid_prefix,
                hash_key=schema.hash_key,
                range_key=schema.range_key,
                ttl_attribute=schema.ttl_attribute,
                indexes=tuple((ix.name, ix.hash_key, ix.range_key) for ix in schema.indexes),
                **common,
            )

        self.audit = table("audit", tables.AUDIT, "OPSAGENT_AUDIT_TABLE", "Audit")
        self.state = table("state", tables.STATE, "OPSAGENT_STATE_TABLE", "State")
        self.tickets = table("tickets", tables.TICKETS, "OPSAGENT_TICKETS_TABLE", "Tickets")
