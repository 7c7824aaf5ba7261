"""The agent's guardrail, pinned to an immutable version that is re-cut whenever its config changes."""

from __future__ import annotations

import hashlib
import json

from cdktn import TerraformResourceLifecycle
from cdktn_aws.bedrock import AwsGuardrail, AwsGuardrailVersion
from constructs import Construct

from opsagent_infra.constructs.data import EncryptionKey

# (type, input strength, output strength). PROMPT_ATTACK applies to input only (output must be NONE).
# VIOLENCE and MISCONDUCT stay LOW: SRE language is full of "kill", "terminate", "OOMKilled",
# "evict", "attack surface"; HIGH would block ordinary incident talk.
CONTENT_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("PROMPT_ATTACK", "HIGH", "NONE"),
    ("HATE", "HIGH", "HIGH"),
    ("SEXUAL", "HIGH", "HIGH"),
    ("INSULTS", "MEDIUM", "MEDIUM"),
    ("VIOLENCE", "LOW", "LOW"),
    ("MISCONDUCT", "LOW", "LOW"),
)
# Credentials are blocked on input (nobody should paste them) and anonymized on output (a log line
# the agent quotes keeps its meaning without the secret). Personal data is anonymized both ways.
PII_ENTITIES: tuple[tuple[str, str, str], ...] = (
    ("AWS_ACCESS_KEY", "BLOCK", "ANONYMIZE"),
    ("AWS_SECRET_KEY", "BLOCK", "ANONYMIZE"),
    ("PASSWORD", "BLOCK", "ANONYMIZE"),
    ("USERNAME", "NONE", "NONE"),  # usernames/service accounts are legitimate evidence
    ("CREDIT_DEBIT_CARD_NUMBER", "ANONYMIZE", "ANONYMIZE"),
    ("EMAIL", "NONE", "ANONYMIZE"),
    ("PHONE", "NONE", "ANONYMIZE"),
)
REGEXES: tuple[tuple[str, str, str], ...] = (
    ("private-key-block", r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "Private key material"),
    ("bearer-token", r"(?i)bearer\s+[A-Za-z0-9._~+/=-]{20,}", "HTTP bearer tokens"),
    (
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "JWTs incl. service-account tokens",
    ),
    ("k8s-eks-token", r"k8s-aws-v1\.[A-Za-z0-9_-]{20,}", "EKS bearer tokens"),
)

BLOCKED_INPUT = (
    "OpsAgent cannot process this request: it looks like a prompt-injection attempt or contains "
    "credentials. Remove secrets and rephrase the question."
)
BLOCKED_OUTPUT = "OpsAgent withheld this answer because it matched a safety filter. Ask again more narrowly."


def guardrail_fingerprint() -> str:
    """Content hash of everything that defines the guardrail (drives the version's replacement)."""
    doc = {
        "content": CONTENT_FILTERS,
        "pii": PII_ENTITIES,
        "regex": REGEXES,
        "in": BLOCKED_INPUT,
        "out": BLOCKED_OUTPUT,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


class AgentGuardrail(Construct):
    """``agent_release``: a fingerprint of everything ``UpdateAgent`` sends (see
    ``constructs/agent.py``, "guardrail immunity"). It is part of the version's description, so every
    change to the agent re-cuts the version, the agent's ``guardrail_configuration`` changes with it,
    and the provider cannot leave the guardrail out of that UpdateAgent call."""

    def __init__(self, scope: Construct, id_: str, *, name: str, key: EncryptionKey, agent_release: str = ""):
        super().__init__(scope, id_)
        self.fingerprint = guardrail_fingerprint()
        self.agent_release = agent_release
        self.guardrail = AwsGuardrail(
            self,
            "guardrail",
            name=name,
            description="OpsAgent: prompt-attack, content and credential filters",
            blocked_input_messaging=BLOCKED_INPUT,
            blocked_outputs_messaging=BLOCKED_OUTPUT,
            kms_key_arn=key.arn,
            content_policy_config=[
                AwsGuardrail.ContentPolicyConfigProperty(
                    filters_config=[
                        AwsGuardrail.ContentPolicyConfigFiltersConfigProperty(
                            type=t, input_strength=i, output_strength=o
                        )
                        for t, i, o in CONTENT_FILTERS
                    ]
                )
            ],
            sensitive_information_policy_config=[
                AwsGuardrail.SensitiveInformationPolicyConfigProperty(
                    pii_entities_config=[
                        AwsGuardrail.PiiEntitiesConfigProperty(
                            type=t,
                            action=o if o != "NONE" else i,
                            input_action=i,
                            input_enabled=i != "NONE",
                            output_action=o,
                            output_enabled=o != "NONE",
                        )
                        for t, i, o in PII_ENTITIES
                        if (i, o) != ("NONE", "NONE")
                    ],
                    regexes_config=[
                        AwsGuardrail.RegexesConfigProperty(
                            name=n, pattern=p, description=d, action="ANONYMIZE"
                        )
                        for n, p, d in REGEXES
                    ],
                )
            ],
        )
        # A guardrail version is immutable; the description carries the config fingerprint and the
        # agent release and is RequiresReplace in the provider, so a changed guardrail *or agent* gets a
        # new version (the old one is kept: skip_destroy, older agent versions may still reference it;
        # see infra/README.md for the versions-per-guardrail quota).
        self.version = AwsGuardrailVersion(
            self,
            "version",
            guardrail_arn=self.guardrail.guardrail_arn,
            description=self.version_description,
            skip_destroy=True,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )

    @property
    def version_description(self) -> str:
        agent = f" agent {self.agent_release}" if self.agent_release else ""
        return f"config {self.fingerprint}{agent}"

    @property
    def arn(self) -> str:
        return self.guardrail.guardrail_arn

    @property
    def guardrail_id(self) -> str:
        return self.guardrail.guardrail_id
