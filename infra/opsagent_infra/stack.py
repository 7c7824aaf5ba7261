"""``OpsAgentStack``: everything one environment needs, wired from the validated configuration."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdktn import LocalBackend, S3Backend, TerraformOutput, TerraformStack
from cdktn_aws.meta_data_sources import DataAwsPartition
from cdktn_aws.provider import AwsProvider
from cdktn_aws.sts import DataAwsCallerIdentity
from constructs import Construct

from opsagent_infra import REPO_ROOT
from opsagent_infra.config import OpsAgentConfig
from opsagent_infra.constructs.action_group import ActionGroup
from opsagent_infra.constructs.agent import Agent
from opsagent_infra.constructs.data import EncryptionKey, Tables
from opsagent_infra.constructs.eks_access import EksReader, EksScaler
from opsagent_infra.constructs.function import OpsAgentFunction
from opsagent_infra.constructs.gateway_front_door import GatewayFrontDoor
from opsagent_infra.constructs.trigger import AlarmTrigger, DeadLetterQueue
from opsagent_infra.iam import Grant, Statement
from opsagent_infra.instruction import render_instruction
from opsagent_infra.knowledge_base import ASSOCIATION_DESCRIPTION, ExistingKnowledgeBase, RunbookKnowledgeBase
from opsagent_infra.naming import Arns, Names
from opsagent_infra.packaging import ACTION_GROUP_FUNCTIONS, VECTOR_INDEX

SCHEMAS_DIR = REPO_ROOT / "schemas"
RUNBOOKS_DIR = REPO_ROOT / "knowledge_base" / "runbooks"
LOCAL_STATE_DIR = "../../../.terraform-state"
API_LIMIT = 11  # Bedrock: APIs per agent, all action groups together
# Oldest Terraform the stack supports: the S3 backend's use_lockfile is GA from 1.11. Written as
# `terraform.required_version` and declared to cdktn as the App's targetVersions (cdktn checks features
# such as native S3 locking against it at synth). The provider constraint (hashicorp/aws at the version
# the cdktn-aws bindings were generated for) is written by the bindings themselves.
TERRAFORM_MIN = (1, 11)
REQUIRED_TERRAFORM = ">= {}.{}".format(*TERRAFORM_MIN)
APP_CONTEXT = {"targetVersions": {"terraform": ">={}.{}.0".format(*TERRAFORM_MIN)}}

ACTION_GROUP_DESCRIPTIONS = {
    "pods": "Read-only pod inspection in the allowed namespaces: list pods, describe one pod "
    "(status, restarts, events) and read bounded, redacted pod logs.",
    "metrics": "CloudWatch: query a metric's recent datapoints and list the alarms currently in ALARM.",
    "scaling": "Read a Deployment and change its replicas within the scaling policy (allowlist, floor, "
    "ceiling, step, cooldown, budget). Scaling needs confirmation.",
    "tickets": "Incident tickets: create one, search existing ones, add a comment with findings.",
}
# Read-only CloudWatch actions without resource-level scoping (they accept only "*").
CLOUDWATCH_METRICS_READ = ("cloudwatch:GetMetricData", "cloudwatch:ListMetrics")


class OpsAgentStack(TerraformStack):
    def __init__(self, scope: Construct, id_: str, *, config: OpsAgentConfig, manifest: dict):
        super().__init__(scope, id_)
        self.config = config
        self.manifest = manifest
        names = self.names = Names(config.name_prefix)
        self._backend(id_)
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        AwsProvider(
            self,
            "aws",
            region=config.region,
            allowed_account_ids=[config.account_id] if config.account_id else None,
            default_tags=[
                AwsProvider.DefaultTagsProperty(
                    tags={**config.tags, "opsagent:env": config.env, "opsagent:managed-by": "cdktf"}
                )
            ],
        )
        partition = DataAwsPartition(self, "partition").partition
        account = config.account_id or DataAwsCallerIdentity(self, "caller").account_id
        arns = self.arns = Arns(partition=partition, region=config.region, account=account)

        # --- data ---------------------------------------------------------------------------
        key = self.key = EncryptionKey(
            self,
            "kms",
            names=names,
            arns=arns,
            deletion_window_days=config.data.kms_deletion_window_days,
            agentcore=config.gateway.enabled,
        )
        tables = self.tables = Tables(
            self, "tables", names=names, key=key, deletion_protection=config.data.deletion_protection
        )

        # --- agent --------------------------------------------------------------------------
        # the prompt file + this environment's namespaces and replica limits (opsagent_infra.instruction)
        instruction = render_instruction(config.instruction_path.read_text(), config)
        agent = self.agent = Agent(
            self, "agent", config=config, names=names, arns=arns, key=key, instruction=instruction
        )

        # --- what functions may use: each grant carries its statements AND its environment --------
        cluster_env = {
            "OPSAGENT_CLUSTER_NAME": config.eks.cluster_name,
            "OPSAGENT_ALLOWED_NAMESPACES": ",".join(config.eks.allowed_namespaces),
        }
        cluster_scope = Grant.of(**cluster_env)  # which cluster and namespaces, no API access
        cluster_describe = Grant.of(
            Statement(
                sid="DescribeOwnCluster",
                actions=("eks:DescribeCluster",),
                resources=(arns.eks_cluster(config.eks.cluster_name),),
            ),
            **cluster_env,
        )
        cloudwatch_read = Grant.of(
            Statement(sid="ReadMetrics", actions=CLOUDWATCH_METRICS_READ, resources=("*",)),
            Statement(
                sid="ReadAlarms",
                actions=("cloudwatch:DescribeAlarms",),
                resources=(f"arn:{partition}:cloudwatch:{config.region}:{account}:alarm:*",),
            ),
        )
        scaling_policy = Grant.of(OPSAGENT_POLICY=config.policy_json)
        ticket_backend = Grant.of(  # the backend's settings and, for Jira/ServiceNow/GitHub, its secret
            *(
                [
                    Statement(
                        sid="ReadTicketSecret",
                        actions=("secretsmanager:GetSecretValue",),
                        resources=(config.ticket_secret_arn,),
                    )
                ]
                if config.ticket_secret_arn
                else []
            ),
            OPSAGENT_TICKETS=config.tickets_json,
        )
        self.grants = {
            "cluster_scope": cluster_scope,
            "cluster_describe": cluster_describe,
            "cloudwatch_read": cloudwatch_read,
            "scaling_policy": scaling_policy,
            "ticket_backend": ticket_backend,
        }

        # --- action groups: one call each (function + grants + permission + agent action group) ---
        self.functions: dict[str, OpsAgentFunction] = {}
        action_groups = {
            "pods": [cluster_describe],
            "metrics": [cluster_scope, cloudwatch_read],
            "scaling": [
                cluster_describe,
                tables.audit.grant_append(),
                tables.state.grant_read_write(),
                scaling_policy,
            ],
            "tickets": [tables.audit.grant_append(), tables.tickets.grant_read_write(), ticket_backend],
        }
        assert sorted(action_groups) == sorted(ACTION_GROUP_FUNCTIONS), "packaging and stack disagree"
        for group, grants in action_groups.items():
            self.add_action_group(group, description=ACTION_GROUP_DESCRIPTIONS[group], grants=grants)
        # --- knowledge base (the alias follows whenever it is added) --------------------------------
        self.knowledge_base: RunbookKnowledgeBase | None = None
        if config.knowledge_base.enabled:
            self._knowledge_base(manifest, partition=partition, account=account)

        # --- alarm trigger ----------------------------------------------------------------------
        dlq = self.dlq = DeadLetterQueue(self, "trigger-dlq", name=names.dlq, key=key)
        trigger_fn = self._function(
            "trigger",
            [
                agent.grant_invoke(),
                cloudwatch_read,
                cluster_describe,
                tables.audit.grant_append(),
                tables.state.grant_read_write(),
                tables.tickets.grant_read_write(),
                dlq.grant_send(),
                ticket_backend,
                scaling_policy,
                Grant.of(OPSAGENT_TRIGGER=config.trigger_json),
            ],
            encrypt_with_key=True,  # SendMessage to the KMS-encrypted DLQ needs GenerateDataKey
            dead_letter_arn=dlq.queue.arn,
        )
        self.trigger = AlarmTrigger(
            self,
            "alarm-trigger",
            names=names,
            settings=config.trigger,
            function=trigger_fn,
            dlq=dlq,
            account_id=account,
        )

        # --- EKS access ---------------------------------------------------------------------------
        cluster = config.eks.cluster_name
        EksReader(
            self,
            "eks-pods",
            cluster=cluster,
            role_arn=self.functions["pods"].role.arn,
            namespaces=config.eks.allowed_namespaces,
            arns=arns,
        )
        EksReader(
            self,
            "eks-trigger",
            cluster=cluster,
            role_arn=trigger_fn.role.arn,
            namespaces=config.eks.allowed_namespaces,
            arns=arns,
        )
        EksScaler(self, "eks-scaling", cluster=cluster, role_arn=self.functions["scaling"].role.arn)

        self.gateway: GatewayFrontDoor | None = None
        if config.gateway.enabled:
            self.gateway = GatewayFrontDoor(
                self,
                "gateway",
                config=config,
                arns=arns,
                key=key,
                functions={g: self.functions[g] for g in ACTION_GROUP_FUNCTIONS},
            )

        self._outputs()

    # ------------------------------------------------------------------------------------------
    def _knowledge_base(self, manifest: dict, *, partition: str, account: str) -> None:
        """``knowledge_base.enabled``: create the runbook knowledge base (no ``knowledge_base_id``) or
        associate an existing one; either way the agent role may Retrieve from it, and the alias waits
        for the association and carries the knowledge base id (see constructs/agent.py)."""
        cfg = self.config
        kb_cfg = cfg.knowledge_base
        description = kb_cfg.description or ASSOCIATION_DESCRIPTION
        if kb_cfg.knowledge_base_id:  # an existing knowledge base: associate it, create nothing else
            kb_id = kb_cfg.knowledge_base_id
            self.agent.use_knowledge_base(
                ExistingKnowledgeBase(kb_id, arn=self.arns.bedrock(f"knowledge-base/{kb_id}")),
                description=description,
            )
            TerraformOutput(self, "knowledge_base_id", value=kb_id)
            return
        try:
            index_zip = manifest["functions"][VECTOR_INDEX]["zip_path"]
        except KeyError:
            raise RuntimeError(
                f"build/manifest.json has no zip for {VECTOR_INDEX!r} (the knowledge base's index "
                "bootstrap): run `make build`"
            ) from None
        kb = self.knowledge_base = RunbookKnowledgeBase(
            self,
            "knowledge-base",
            name_prefix=cfg.name_prefix,
            kms_key_arn=self.key.arn,
            kms_key_id=self.key.key.key_id,
            runbooks_path=RUNBOOKS_DIR,
            index_function_zip=index_zip,
            agent_id=self.agent.agent_id,
            tags=cfg.tags,
            private_network=kb_cfg.private_network,
            vpc_endpoint_ids=kb_cfg.vpc_endpoint_ids,
            index_function_subnet_ids=kb_cfg.subnet_ids,
            index_function_security_group_ids=kb_cfg.security_group_ids,
            standby_replicas=kb_cfg.standby_replicas,
            log_retention_days=cfg.log_retention_days,
            region=cfg.region,
            account_id=account,
            partition=partition,
            association_description=description,
            force_destroy=not cfg.data.deletion_protection,
        )
        assert kb.association is not None  # agent_id is given
        self.agent.use_knowledge_base(kb, description=description, association=kb.association)

    def add_action_group(
        self, group: str, *, description: str, grants: Sequence[Grant], schema_path: Path | None = None
    ) -> ActionGroup:
        """The one place an action group is added: its function (``opsagent.handlers.<group>``, with
        ``grants``), the invoke permission for this agent only, the agent's action group from
        ``schemas/<group>.json`` and the alias's release. Any time after the stack is constructed."""
        if group in self.action_groups:
            raise ValueError(f"the agent already has an action group {group!r}")
        fn = self._function(group, grants)
        return self.agent.add_action_group(
            self,
            f"action-group-{group}",
            group=group,
            description=description,
            schema_path=schema_path or SCHEMAS_DIR / f"{group}.json",
            function=fn,
            account_id=self.arns.account,
        )

    @property
    def action_groups(self) -> dict[str, ActionGroup]:
        return self.agent.action_groups

    def _function(
        self,
        name: str,
        grants: Sequence[Grant],
        encrypt_with_key: bool = False,
        dead_letter_arn: str | None = None,
    ) -> OpsAgentFunction:
        cfg = self.config
        try:
            build = self.manifest["functions"][name]
        except KeyError:
            raise RuntimeError(f"build/manifest.json has no zip for {name!r}: run `make build`") from None
        environment = {
            "POWERTOOLS_SERVICE_NAME": f"opsagent-{name}",
            "POWERTOOLS_METRICS_NAMESPACE": "OpsAgent",
            "POWERTOOLS_LOG_LEVEL": cfg.functions.log_level,
        }
        fn = OpsAgentFunction(
            self,
            f"function-{name}",
            name=name,
            function_name=self.names.function(name),
            role_name=self.names.role(name),
            description=f"OpsAgent {name} ({cfg.env})",
            settings=cfg.functions.for_function(name),
            build=build,
            key=self.key,
            log_retention_days=cfg.log_retention_days,
            environment=environment,
            grants=grants,
            encrypt_with_key=encrypt_with_key,
            dead_letter_arn=dead_letter_arn,
        )
        self.functions[name] = fn
        return fn

    def _backend(self, stack_id: str) -> None:
        b = self.config.backend
        if b.type == "s3":
            S3Backend(
                self,
                bucket=b.bucket,
                key=b.key,
                region=b.region or self.config.region,
                encrypt=True,
                kms_key_id=b.kms_key_id,
                use_lockfile=True,  # native S3 state locking (GA in Terraform 1.11): no DynamoDB lock table
            )
        else:
            # Relative to cdktf.out/stacks/<stack>/ (terraform -chdir): the state lives outside
            # cdktf.out, so `make clean` or a re-synth can never delete it (*.tfstate* is git-ignored).
            LocalBackend(self, path=f"{LOCAL_STATE_DIR}/{stack_id}.tfstate")

    def _outputs(self) -> None:
        agent = self.agent
        outputs = {
            "agent_id": agent.agent_id,
            "agent_alias_id": agent.alias.agent_alias_id,
            "agent_alias_arn": agent.alias.agent_alias_arn,
            "agent_release": agent.release,
            "guardrail_id": agent.guardrail.guardrail_id,
            "guardrail_version": agent.guardrail.version.version,
            "function_names": {name: fn.function_name for name, fn in self.functions.items()},
            "table_names": {
                "audit": self.tables.audit.name,
                "state": self.tables.state.name,
                "tickets": self.tables.tickets.name,
            },
            "dlq_url": self.dlq.queue.url,
            "alarm_rule_arn": self.trigger.rule.arn,
            "kms_key_arn": self.key.arn,
        }
        if self.gateway is not None:
            outputs.update(self.gateway.outputs())
        for name, value in outputs.items():
            TerraformOutput(self, name, value=value)

    # Facts for the synth checks -----------------------------------------------------------------
    @property
    def missing_schemas(self) -> list[str]:
        return [
            str(ag.schema_path.relative_to(REPO_ROOT)) for ag in self.action_groups.values() if ag.placeholder
        ]

    @property
    def total_operations(self) -> int:
        return sum(ag.operations for ag in self.action_groups.values())
