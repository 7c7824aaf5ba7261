"""CloudWatch alarm -> EventBridge rule -> trigger Lambda, with retries and an encrypted DLQ."""

from __future__ import annotations

import json

from cdktn_aws.eventbridge import AwsRule, AwsTarget
from cdktn_aws.lambda_ import AwsFunctionEventInvokeConfig, AwsPermission
from cdktn_aws.sqs import AwsQueue, AwsQueuePolicy
from constructs import Construct

from opsagent_infra.config import TriggerConfig
from opsagent_infra.constructs.data import EncryptionKey
from opsagent_infra.constructs.function import OpsAgentFunction
from opsagent_infra.iam import Condition, Grant, Statement, policy_document
from opsagent_infra.naming import Names


def alarm_event_pattern(alarm_name_prefix: str | None) -> dict:
    """reference §5: ALARM transitions of CloudWatch alarms (optionally only names with a prefix)."""
    detail: dict = {"state": {"value": ["ALARM"]}}
    if alarm_name_prefix:
        detail["alarmName"] = [{"prefix": alarm_name_prefix}]
    return {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "detail": detail}


class DeadLetterQueue(Construct):
    def __init__(self, scope: Construct, id_: str, *, name: str, key: EncryptionKey):
        super().__init__(scope, id_)
        self.queue = AwsQueue(
            self,
            "queue",
            name=name,
            kms_master_key_id=key.arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=14 * 86400,
        )

    def grant_send(self) -> Grant:
        return Grant.of(
            Statement(sid="FailedEventsToDlq", actions=("sqs:SendMessage",), resources=(self.queue.arn,))
        )

    def allow_rule(self, rule_arn: str) -> None:
        doc = policy_document(
            self,
            "policy",
            [
                Statement(
                    sid="EventBridgeFromAlarmRuleOnly",
                    actions=("sqs:SendMessage",),
                    resources=(self.queue.arn,),
                    principals=(("Service", ("events.amazonaws.com",)),),
                    conditions=(Condition("ArnEquals", "aws:SourceArn", (rule_arn,)),),
                ),
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    actions=("sqs:*",),
                    resources=(self.queue.arn,),
                    principals=(("AWS", ("*",)),),
                    conditions=(Condition("Bool", "aws:SecureTransport", ("false",)),),
                ),
            ],
        )
        AwsQueuePolicy(self, "queue-policy", queue_url=self.queue.url, policy=doc.json)


class AlarmTrigger(Construct):
    """Wires an already-built trigger function to the alarm rule."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        names: Names,
        settings: TriggerConfig,
        function: OpsAgentFunction,
        dlq: DeadLetterQueue,
        account_id: str,
    ):
        super().__init__(scope, id_)
        self.pattern = alarm_event_pattern(settings.alarm_name_prefix)
        self.rule = AwsRule(
            self,
            "rule",
            name=names.alarm_rule,
            description="CloudWatch alarms entering ALARM start an OpsAgent investigation",
            event_pattern=json.dumps(self.pattern, sort_keys=True),
            state="ENABLED" if settings.enabled else "DISABLED",
        )
        dlq.allow_rule(self.rule.arn)
        self.permission = AwsPermission(
            self,
            "invoke-by-rule",
            statement_id="AllowAlarmRule",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
            source_account=account_id,
        )
        self.target = AwsTarget(
            self,
            "target",
            rule=self.rule.name,
            target_id="opsagent-trigger",
            arn=function.arn,
            retry_policy=AwsTarget.RetryPolicyProperty(
                maximum_retry_attempts=settings.maximum_retry_attempts,
                maximum_event_age_in_seconds=settings.maximum_event_age_seconds,
            ),
            dead_letter_config=AwsTarget.DeadLetterConfigProperty(arn=dlq.queue.arn),
            depends_on=[self.permission],
        )
        # EventBridge invokes asynchronously: a failing investigation is retried twice by Lambda (the
        # most it allows; a duplicate delivery that meets a still-running investigation fails and is
        # retried, so one retry parked such events in the DLQ too early) and then parked in the same
        # DLQ (the function's dead_letter_config; the handler is idempotent on alarm ARN + state
        # timestamp). One failure channel only: an on-failure destination as well would deliver
        # every failed event twice.
        self.invoke_config = AwsFunctionEventInvokeConfig(
            self,
            "async",
            function_name=function.function_name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=settings.maximum_event_age_seconds,
        )
