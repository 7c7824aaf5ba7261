"""The Bedrock agent: service role, guardrail, CMK, instruction, and an alias that always serves the
latest prepared configuration.

Alias versioning (the bug of the reference modules: the alias silently keeps serving the version it
was created with). Mechanism, checked against terraform-provider-aws 6.x
(``internal/service/bedrockagent/agent_alias.go``):

* ``routing_configuration`` is deliberately **not** set. It is Optional+Computed without
  ``UseStateForUnknown``, so whenever any other argument changes it is planned as unknown and the
  provider's ``Update`` sends ``UpdateAgentAlias`` *without* a routing configuration. Bedrock then
  snapshots the prepared DRAFT into a new numbered version and points the alias at it (the same
  behaviour CloudFormation's AgentAlias relies on; see generative-ai-cdk-constructs PR #1116).
* The alias ``description`` carries a **release fingerprint**: a SHA-256 over the instruction text,
  the model, the guardrail version fingerprint, the idle-session TTL, the knowledge base association
  (id when known at synth, description, state) and every action group (name, description, state,
  schema payload, executor function). Any change to what an agent version snapshots changes the
  description, which is exactly what triggers that update. An unchanged configuration gives the same
  fingerprint: no new version, no churn.
* The **knowledge base id** is written into the description as well (``kb <id>``). When the stack
  creates the knowledge base its id is only known at apply time, so the synth-time fingerprint cannot
  cover it: Terraform interpolates it, and a replaced knowledge base (new id) changes the description
  and so moves the alias to a new version that references the new knowledge base.
* ``depends_on`` the agent, every action group and the KB association: Terraform updates (and, via
  ``prepare_agent``, prepares) all of them before it updates the alias, so the snapshot contains the
  new configuration rather than the old one.
* Lambda code is not part of the fingerprint: action groups call the unqualified function ARN, so a
  code deploy is live for every agent version at once, and only schema/instruction/config changes
  need a new agent version (a schema change is in the fingerprint).
* Rollback: ``aws bedrock-agent update-agent-alias --routing-configuration agentVersion=N``; the next
  ``terraform apply`` leaves it alone until the fingerprint changes (routing is not in the config).

Prepare order (issue 10 item 3). Checked against the provider source: ``aws_bedrockagent_agent`` and
``aws_bedrockagent_agent_action_group`` call PrepareAgent after their own create/update when
``prepare_agent`` is true; ``aws_bedrockagent_agent_knowledge_base_association`` never prepares. The
provider's standalone prepare is a Terraform *action* (``agent_prepare_action.go``), which needs
Terraform >= 1.14; this stack supports >= 1.11, so it is not used. Instead, one chain:

  agent -> action group 1 -> ... -> action group n -> knowledge-base association
        -> UserInput action group (AMAZON.UserInput, prepare_agent) -> alias

* each link ``depends_on`` the previous one, so no two PrepareAgent calls race and the association is
  made on a draft that already has every action group;
* the UserInput group (item 11: the built-in action that lets the model ask for a missing parameter)
  is the **last prepare**: ``lifecycle.replace_triggered_by`` lists the agent, every action group and
  the association, so any change to one of them re-creates it, and its create prepares the complete
  draft. Its own description must be blank (Bedrock rejects one for AMAZON.UserInput), which is why
  replacement, not a description change, re-runs it;
* the alias depends on it, so the alias only ever snapshots a draft prepared after the last change.

Guardrail immunity (issue 10 item 2). The pinned provider (6.62; PR #48681 still open) sends
``guardrailConfiguration`` in UpdateAgent only when the block itself changed: an instruction, model
or TTL change would update the agent *without* its guardrail, and the alias would snapshot that.
The guardrail version's description carries :func:`agent_update_fingerprint` (everything UpdateAgent
sends), so every such change re-cuts the guardrail version, the block's ``guardrail_version`` changes
with it and the provider must send the block. ``make verify`` checks the result after apply.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Protocol

from cdktn import TerraformResource, Token
from cdktn_aws.bedrock_agents import (
    AwsAgent,
    AwsAgentActionGroup,
    AwsAgentAlias,
    AwsAgentKnowledgeBaseAssociation,
)
from constructs import Construct

from opsagent_infra.config import OpsAgentConfig
from opsagent_infra.constructs.action_group import ActionGroup
from opsagent_infra.constructs.data import EncryptionKey
from opsagent_infra.constructs.function import OpsAgentFunction
from opsagent_infra.constructs.guardrail import AgentGuardrail
from opsagent_infra.iam import Condition, Grant, RoleSpec, ServiceRole, Statement
from opsagent_infra.naming import Arns, Names

INSTRUCTION_LIMIT = 4000
AGENT_DESCRIPTION = "OpsAgent: incident responder for EKS (pods, metrics, safe scaling, tickets)"


class KnowledgeBaseLike(Protocol):
    """A knowledge base the agent can search: one created here (``RunbookKnowledgeBase``) or an
    existing one (``ExistingKnowledgeBase``)."""

    @property
    def knowledge_base_id(self) -> str: ...

    def grant_retrieve(self) -> Grant: ...


USER_INPUT_GROUP = "UserInput"
USER_INPUT_SIGNATURE = "AMAZON.UserInput"


def release_fingerprint(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def agent_update_fingerprint(config: OpsAgentConfig, names: Names, instruction: str) -> str:
    """A hash of every argument of ``aws_bedrockagent_agent`` that can change in place (what an
    UpdateAgent call sends) except the guardrail block itself; the guardrail version follows it."""
    return release_fingerprint(
        {
            "name": names.agent,
            "description": AGENT_DESCRIPTION,
            "role": names.role("agent"),
            "model": config.model.id,
            "instruction": instruction,
            "idle_session_ttl": config.agent.idle_session_ttl_seconds,
        }
    )[:16]


def _address(resource: TerraformResource) -> str:
    """The address form Terraform expects in depends_on / replace_triggered_by ("type.name")."""
    return f"{resource.terraform_resource_type}.{resource.friendly_unique_id}"


class Agent(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: OpsAgentConfig,
        names: Names,
        arns: Arns,
        key: EncryptionKey,
        instruction: str,
    ):
        super().__init__(scope, id_)
        if len(instruction) > INSTRUCTION_LIMIT:
            raise ValueError(
                f"agent instruction is {len(instruction)} characters; the limit is {INSTRUCTION_LIMIT}"
            )
        self.config = config
        self._key_arn = key.arn
        self.instruction = instruction
        self.agent_update = agent_update_fingerprint(config, names, instruction)
        self.guardrail = AgentGuardrail(
            self, "guardrail", name=names.guardrail, key=key, agent_release=self.agent_update
        )

        model = config.model
        if model.is_profile:
            profile_arn = arns.bedrock(f"inference-profile/{model.id}")
            model_statements = [
                Statement(
                    sid="InvokeThroughInferenceProfile",
                    actions=(
                        "bedrock:InvokeModel",
                        "bedrock:InvokeModelWithResponseStream",
                        "bedrock:GetInferenceProfile",
                    ),
                    resources=(profile_arn,),
                ),
                Statement(
                    sid="InvokeProfileModels",
                    actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
                    resources=tuple(model.underlying_model_arns),
                ),
            ]
        else:
            model_statements = [
                Statement(
                    sid="InvokeFoundationModel",
                    actions=("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
                    resources=(arns.foundation_model(model.id),),
                )
            ]
        statements = [
            *model_statements,
            Statement(
                sid="UseGuardrail",
                actions=("bedrock:ApplyGuardrail", "bedrock:GetGuardrail"),
                resources=(self.guardrail.arn,),
            ),
            Statement(
                sid="UseStackKey",
                actions=("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                resources=(key.arn,),
            ),
        ]
        # Confused-deputy protection: only Bedrock acting for an agent of this account and region.
        self.role = ServiceRole(
            self,
            "role",
            RoleSpec(
                name=names.role("agent"),
                service="bedrock.amazonaws.com",
                statements=statements,
                trust_conditions=(
                    Condition("StringEquals", "aws:SourceAccount", (arns.account,)),
                    Condition("ArnLike", "aws:SourceArn", (arns.agent_pattern(),)),
                ),
                description="OpsAgent Bedrock agent service role",
            ),
        )
        self.agent = AwsAgent(
            self,
            "agent",
            agent_name=names.agent,
            description=AGENT_DESCRIPTION,
            agent_resource_role_arn=self.role.arn,
            foundation_model=model.id,
            instruction=instruction,
            idle_session_ttl_in_seconds=config.agent.idle_session_ttl_seconds,
            customer_encryption_key_arn=key.arn,
            guardrail_configuration=[
                AwsAgent.GuardrailConfigurationProperty(
                    guardrail_identifier=self.guardrail.guardrail_id,
                    guardrail_version=self.guardrail.version.version,
                )
            ],
            prepare_agent=True,
            skip_resource_in_use_check=True,
            depends_on=[self.role.policy],
        )
        # AMAZON.UserInput: the model asks the person for a missing parameter instead of guessing it (not
        # counted as an API). Also the last prepare of the chain (module doc, "Prepare order").
        self.user_input = AwsAgentActionGroup(
            self,
            "user-input",
            action_group_name=USER_INPUT_GROUP,
            agent_id=self.agent.agent_id,
            agent_version="DRAFT",
            parent_action_group_signature=USER_INPUT_SIGNATURE,
            action_group_state="ENABLED",
            prepare_agent=True,
            skip_resource_in_use_check=True,
        )
        self.kb_association: AwsAgentKnowledgeBaseAssociation | None = None
        self._kb_base_deps: list[str] = []
        self.knowledge_base_id: str | None = None
        self._kb_release: dict | None = None
        self.action_groups: dict[str, ActionGroup] = {}
        # The alias exists from the start; every add_action_group / use_knowledge_base call re-derives
        # its release fingerprint, description and depends_on, so the order of those calls (and of
        # anything else in the stack) does not matter.
        self.alias = AwsAgentAlias(
            self,
            "alias",
            agent_alias_name=config.agent.alias_name,
            agent_id=self.agent.agent_id,
            description="release (set by _refresh_alias)",
        )
        self.release = ""
        self._refresh_alias()

    def alias_description(self) -> str:
        """``release <fingerprint>[ kb <knowledge base id>] (...)``; at most 200 characters once
        Terraform has resolved the id (knowledge base ids are 10 characters)."""
        kb = f" kb {self.knowledge_base_id}" if self.knowledge_base_id else ""
        what = (
            "instruction, schemas, action groups or knowledge base"
            if kb
            else "instruction, schemas or action groups"
        )
        return f"release {self.release}{kb} (changes when {what} change)"

    @property
    def agent_id(self) -> str:
        return self.agent.agent_id

    @property
    def agent_arn(self) -> str:
        return self.agent.agent_arn

    def add_action_group(
        self,
        scope: Construct,
        id_: str,
        *,
        group: str,
        description: str,
        schema_path: Path,
        function: OpsAgentFunction,
        account_id: str,
    ) -> ActionGroup:
        """One call wires an action group: the function's invoke permission for this agent only, the
        agent's action group, and the alias (its release fingerprint and depends_on follow). ``scope``
        / ``id_`` place the construct (the stack keeps ``action-group-<name>``, so Terraform addresses
        stay stable)."""
        if group in self.action_groups:
            raise ValueError(f"the agent already has an action group {group!r}")
        action_group = ActionGroup(
            scope,
            id_,
            agent_id=self.agent_id,
            agent_arn=self.agent_arn,
            account_id=account_id,
            group=group,
            description=description,
            schema_path=schema_path,
            function=function,
        )
        self.action_groups[group] = action_group
        self._refresh_alias()
        return action_group

    def grant_invoke(self) -> Grant:
        """InvokeAgent on this agent's alias, with the ids the caller's code needs, and the KMS rights
        the Bedrock agent encryption guide requires of every InvokeAgent caller of a CMK-encrypted agent
        (GenerateDataKey + Decrypt, only with this agent's ARN as encryption context; infra/README.md)."""
        return Grant.of(
            Statement(
                sid="InvokeThisAgentAlias",
                actions=("bedrock:InvokeAgent",),
                resources=(self.alias.agent_alias_arn,),
            ),
            Statement(
                sid="AgentSessionEncryption",
                actions=("kms:GenerateDataKey", "kms:Decrypt"),
                resources=(self._key_arn,),
                conditions=(
                    Condition("StringEquals", "kms:EncryptionContext:aws:bedrock:arn", (self.agent_arn,)),
                ),
            ),
            OPSAGENT_AGENT_ID=self.agent_id,
            OPSAGENT_AGENT_ALIAS_ID=self.alias.agent_alias_id,
        )

    def use_knowledge_base(
        self,
        knowledge_base: KnowledgeBaseLike,
        *,
        description: str,
        association: AwsAgentKnowledgeBaseAssociation | None = None,
    ) -> AwsAgentKnowledgeBaseAssociation:
        """Let the agent search a knowledge base: its retrieve grant joins the agent role's policy, the
        association is created (or the given one, from ``RunbookKnowledgeBase``, is used) and the alias
        follows. Any time before synth."""
        if self.kb_association is not None:
            raise RuntimeError("the agent already has a knowledge base")
        knowledge_base_id = knowledge_base.knowledge_base_id
        self.role.add_statements(knowledge_base.grant_retrieve().statements)
        if association is None:
            association = AwsAgentKnowledgeBaseAssociation(
                self,
                "knowledge-base",
                agent_id=self.agent.agent_id,
                agent_version="DRAFT",
                knowledge_base_id=knowledge_base_id,
                description=description,
                knowledge_base_state="ENABLED",
            )
        self.kb_association = association
        self._kb_base_deps = list(association.depends_on or [])
        self.knowledge_base_id = knowledge_base_id
        literal = not Token.is_unresolved(knowledge_base_id)
        self._kb_release = {
            # a created knowledge base's id is a Terraform reference: it goes into the alias description
            # (resolved at apply) instead of the synth-time hash
            "id": knowledge_base_id if literal else "created-by-this-stack",
            "description": description,
            "state": "ENABLED",
        }
        self._refresh_alias()
        return association

    def _refresh_alias(self) -> None:
        """Re-derive what the alias snapshots (see the module doc for the mechanism)."""
        cfg = self.config
        parts = {
            "instruction": self.instruction,
            "model": cfg.model.id,
            "guardrail": self.guardrail.fingerprint,
            "idle_session_ttl": cfg.agent.idle_session_ttl_seconds,
            "knowledge_base": self._kb_release,
            "user_input": USER_INPUT_SIGNATURE,
            "action_groups": {
                ag.group: {
                    "description": ag.description,
                    "schema": ag.schema,
                    "function": ag.function.literal_name,
                }
                for ag in self.action_groups.values()
            },
        }
        self.release = release_fingerprint(parts)
        self.alias.description = self.alias_description()
        self.alias.tags = {"opsagent:release": self.release}
        self._chain()

    @property
    def prepare_chain(self) -> list[TerraformResource]:
        """What is applied (and prepared) in order before the alias moves (module doc)."""
        chain: list[TerraformResource] = [
            self.agent,
            *(ag.action_group for ag in self.action_groups.values()),
        ]
        if self.kb_association is not None:
            chain.append(self.kb_association)
        return [*chain, self.user_input]

    def _chain(self) -> None:
        chain = self.prepare_chain
        for previous, link in zip(chain[1:-2], chain[2:-1], strict=True):  # action groups after the first, KB
            base = self._kb_base_deps if link is self.kb_association else _base_deps(link)
            link.depends_on = sorted({*base, _address(previous)})
        # the last prepare: after everything, and re-created whenever any of it changes
        self.user_input.depends_on = [_address(r) for r in chain[:-1]]
        self.user_input.add_override("lifecycle.replace_triggered_by", [_address(r) for r in chain[:-1]])
        self.alias.depends_on = [_address(r) for r in chain]


def _base_deps(action_group: TerraformResource) -> list[str]:
    """An action group's own dependencies (its invoke permission), without earlier chain links."""
    return [d for d in (action_group.depends_on or []) if not d.startswith("aws_bedrockagent_")]
