"""One typed configuration per environment: ``infra/environments/<env>.yaml``.

``load_config()`` picks the file from ``OPSAGENT_ENV`` / ``ENV`` (default ``dev``), validates it
completely before a single construct is created and raises :class:`ConfigError` listing every problem as
``<file>: <field path>: <problem>``. The scaling policy and the ticket backend are validated with
the very models the Lambdas use at run time (``opsagent.scaling.policy.ScalingPolicy`` and
``opsagent.tickets.config``), so a value that synthesizes is a value the functions accept.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from opsagent_infra import INFRA_DIR, REPO_ROOT

ENVIRONMENTS_DIR = INFRA_DIR / "environments"
DEFAULT_ENV = "dev"

# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Geography prefixes of system-defined cross-region inference profiles (us.anthropic..., eu..., global...).
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|global|us-gov|ca|jp|au)\.")
_FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:([a-z0-9-]+|\*)::foundation-model/[A-Za-z0-9.:_-]+$"
)
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ConfigError(Exception):
    """Invalid environment configuration; ``problems`` holds one line per bad field."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration in {source}:\n  " + "\n  ".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EksConfig(_Strict):
    cluster_name: str = Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$", description="EKS cluster name")
    allowed_namespaces: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Namespaces the functions may read (EKS access scope) and where the scaler RBAC is bound",
    )

    @field_validator("allowed_namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        bad = [ns for ns in value if not _NAMESPACE.match(ns)]
        if bad:
            raise ValueError(f"not valid namespace names (RFC 1123 labels, no wildcards): {bad}")
        if len(set(value)) != len(value):
            raise ValueError("duplicate namespaces")
        return value


class ModelConfig(_Strict):
    """A foundation-model id, or an inference-profile id plus the model ARNs it routes to (the agent
    role needs InvokeModel on the profile *and* on every underlying model)."""

    id: str = Field(min_length=3, max_length=200, pattern=r"^[A-Za-z0-9.:_/-]+$")
    kind: Literal["foundation_model", "inference_profile"] | None = Field(
        default=None, description="Derived from the id when omitted: a geo prefix (us., eu., ...) = profile"
    )
    underlying_model_arns: list[str] = Field(
        default_factory=list,
        description="Derived from opsagent_infra.models for a known geo profile when omitted",
    )
    allow_unlisted: bool = Field(
        default=False,
        description="Explicit override: use a model that opsagent_infra.models does not list (or lists as "
        "end-of-life / Legacy / not offered in this region); only the structural checks remain",
    )

    @model_validator(mode="after")
    def _kind(self) -> ModelConfig:
        from opsagent_infra.models import profile_model_arns

        kind = self.kind or ("inference_profile" if _PROFILE_PREFIX.match(self.id) else "foundation_model")
        object.__setattr__(self, "kind", kind)
        if kind == "inference_profile":
            if not self.underlying_model_arns:
                object.__setattr__(self, "underlying_model_arns", profile_model_arns(self.id))
            if not self.underlying_model_arns:
                raise ValueError(
                    "an inference profile needs underlying_model_arns (the foundation-model ARNs it "
                    "routes to, e.g. arn:aws:bedrock:us-east-1::foundation-model/<model id>)"
                )
            bad = [a for a in self.underlying_model_arns if not _FOUNDATION_MODEL_ARN.match(a)]
            if bad:
                raise ValueError(f"not foundation-model ARNs: {bad}")
        elif self.underlying_model_arns:
            raise ValueError("underlying_model_arns only applies to an inference profile")
        return self

    @property
    def is_profile(self) -> bool:
        return self.kind == "inference_profile"


# The trigger runs a whole investigation (agent session + runbook fallback + ticket) in one invocation:
# it gets its own default timeout instead of the tools' 30 s.
TRIGGER_DEFAULT_TIMEOUT_SECONDS = 300
# The least time an agent session needs inside the trigger's invocation (a few tool calls, each a
# Lambda round trip, plus the model's turns): the trigger timeout must fit this plus reserve_seconds.
MIN_AGENT_SESSION_SECONDS = 120
# Lambda keeps at least this much of the account's concurrency unreserved.
LAMBDA_UNRESERVED_MINIMUM = 100


class FunctionSettings(_Strict):
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_seconds: int = Field(default=30, ge=3, le=900)
    reserved_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Opt-in: Lambda rejects any reservation on accounts at the default limit of 10 "
        "concurrent executions (it keeps 100 unreserved); set functions.account_concurrency_limit to "
        "have the total checked at config load",
    )


class LambdaConfig(_Strict):
    defaults: FunctionSettings = FunctionSettings()
    overrides: dict[Literal["pods", "metrics", "scaling", "tickets", "trigger"], FunctionSettings] = Field(
        default_factory=dict
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    account_concurrency_limit: int | None = Field(
        default=None,
        ge=10,
        description="The account's Lambda concurrent-executions quota in this region (Service Quotas "
        "L-B99A9384); when set, the reservations must leave LAMBDA_UNRESERVED_MINIMUM unreserved",
    )

    def for_function(self, name: str) -> FunctionSettings:
        if name in self.overrides:
            return self.overrides[name]  # type: ignore[index]
        if name == "trigger" and "timeout_seconds" not in self.defaults.model_fields_set:
            return self.defaults.model_copy(update={"timeout_seconds": TRIGGER_DEFAULT_TIMEOUT_SECONDS})
        return self.defaults

    def reservations(self, names: tuple[str, ...]) -> dict[str, int]:
        return {n: r for n in names if (r := self.for_function(n).reserved_concurrency) is not None}

    @model_validator(mode="after")
    def _reservations_fit_account(self) -> LambdaConfig:
        if self.account_concurrency_limit is None:
            return self
        names = ("pods", "metrics", "scaling", "tickets", "trigger")
        reserved = self.reservations(names)
        total = sum(reserved.values())
        room = self.account_concurrency_limit - LAMBDA_UNRESERVED_MINIMUM
        if reserved and total > room:
            raise ValueError(
                f"reserved_concurrency totals {total} ({reserved}) but an account limit of "
                f"{self.account_concurrency_limit} (functions.account_concurrency_limit) leaves "
                f"{max(room, 0)} to reserve (Lambda keeps {LAMBDA_UNRESERVED_MINIMUM} unreserved): remove "
                "functions.defaults/overrides.*.reserved_concurrency or raise the quota"
            )
        return self

    @model_validator(mode="after")
    def _scaling_timeout_below_idempotency_lease(self) -> LambdaConfig:
        """A scale holds an idempotency lease of IDEM_LEASE_SECONDS (60 s): a Lambda allowed to run
        longer could outlive its own lease, and a retry would then act beside it."""
        from opsagent.scaling.service import IDEM_LEASE_SECONDS

        timeout = self.for_function("scaling").timeout_seconds
        if timeout >= IDEM_LEASE_SECONDS:
            raise ValueError(
                f"the scaling function's timeout_seconds ({timeout}) must be below its idempotency "
                f"lease ({IDEM_LEASE_SECONDS} s); set functions.overrides.scaling.timeout_seconds <= "
                f"{IDEM_LEASE_SECONDS - 1}"
            )
        return self


class TriggerConfig(_Strict):
    """The alarm trigger. ``alarm_name_prefix`` and the retry settings shape the EventBridge rule and
    target (infra only); ``mutation_mode`` + ``settings`` become ``OPSAGENT_TRIGGER``, validated with
    the trigger's own model (``opsagent.investigation.config.TriggerConfig``)."""

    enabled: bool = True
    alarm_name_prefix: str | None = Field(default=None, min_length=1, max_length=200)
    mutation_mode: Literal["propose", "confirm"] = Field(
        default="propose",
        description="propose: the investigation only proposes mutations; confirm: listed operations are "
        "confirmed (still within the scaling policy)",
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="Other OPSAGENT_TRIGGER fields")
    maximum_retry_attempts: int = Field(default=4, ge=0, le=185, description="EventBridge target retries")
    maximum_event_age_seconds: int = Field(
        default=3600,
        ge=60,
        le=21600,
        description="Both the EventBridge target's retry policy (provider: 60..86400) and the Lambda "
        "async invoke config (provider: 60..21600) get this value, so it must fit both: 60..21600",
    )

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "mutation_mode" in value:
            raise ValueError("set mutation_mode at trigger.mutation_mode, not in trigger.settings")
        validate_trigger({"mutation_mode": info.data.get("mutation_mode", "propose"), **value})
        return value

    @property
    def document(self) -> dict[str, Any]:
        return {"mutation_mode": self.mutation_mode, **self.settings}

    @property
    def reserve_seconds(self) -> int:
        """``settings.reserve_seconds`` or the trigger's own default (read from its runtime model)."""
        if "reserve_seconds" in self.settings:
            return int(self.settings["reserve_seconds"])
        _ensure_lambdas_importable()
        from opsagent.investigation.config import TriggerConfig as RuntimeTriggerConfig

        return int(RuntimeTriggerConfig.model_fields["reserve_seconds"].default)


_VPC_ENDPOINT = re.compile(r"^vpce-[0-9a-f]{8,17}$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
# Settings of a knowledge base the stack creates (meaningless for an existing one).
KB_CREATE_ONLY = (
    "standby_replicas",
    "private_network",
    "vpc_endpoint_ids",
    "subnet_ids",
    "security_group_ids",
)


class KnowledgeBaseConfig(_Strict):
    """The runbook knowledge base the agent searches (``knowledge_base/runbooks``).

    * ``enabled: false`` (default): no knowledge base; the agent works from its instruction and tools.
    * ``enabled: true`` without ``knowledge_base_id``: the stack **creates** it
      (``opsagent_infra.knowledge_base.RunbookKnowledgeBase``: S3 documents bucket, OpenSearch
      Serverless vector collection + policies, index bootstrap Lambda, Bedrock knowledge base, S3 data
      source, agent association). The collection bills an OCU floor even when idle (see infra/README.md).
    * ``enabled: true`` with ``knowledge_base_id``: associate an **existing** knowledge base; nothing
      else is created, and the settings below that shape a created one must be left unset.
    """

    enabled: bool = False
    knowledge_base_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-zA-Z]{10}$",
        description="An existing knowledge base to associate instead of creating one",
    )
    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="What the agent is told about the knowledge base (when to search it); default: "
        "opsagent_infra.knowledge_base.ASSOCIATION_DESCRIPTION",
    )
    standby_replicas: bool = Field(
        default=True,
        description="OpenSearch Serverless standby replicas (redundancy: twice the OCU floor); false for "
        "dev/test",
    )
    private_network: bool = Field(
        default=False,
        description="Collection reachable only from vpc_endpoint_ids and Bedrock (not the public endpoint); "
        "the index bootstrap Lambda then runs in subnet_ids with security_group_ids",
    )
    vpc_endpoint_ids: list[str] = Field(
        default_factory=list,
        description="OpenSearch Serverless VPC endpoint ids (vpce-...), private_network only",
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="Subnets of the index bootstrap Lambda (must reach a VPC endpoint), private_network only",
    )
    security_group_ids: list[str] = Field(
        default_factory=list,
        description="Security groups of the index bootstrap Lambda, private_network only",
    )

    @field_validator("vpc_endpoint_ids", "subnet_ids", "security_group_ids")
    @classmethod
    def _ids(cls, value: list[str], info: ValidationInfo) -> list[str]:
        pattern, example = {
            "vpc_endpoint_ids": (_VPC_ENDPOINT, "vpce-0123456789abcdef0"),
            "subnet_ids": (_SUBNET, "subnet-0123456789abcdef0"),
            "security_group_ids": (_SECURITY_GROUP, "sg-0123456789abcdef0"),
        }[info.field_name]
        bad = [v for v in value if not pattern.match(v)]
        if bad:
            raise ValueError(f"not valid ids (e.g. {example}): {bad}")
        if len(set(value)) != len(value):
            raise ValueError("duplicate ids")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeBaseConfig:
        if self.knowledge_base_id:
            create_only = sorted(set(KB_CREATE_ONLY) & self.model_fields_set)
            if create_only:
                raise ValueError(
                    f"{', '.join(create_only)} only apply when the stack creates the knowledge base; with "
                    "knowledge_base_id (an existing knowledge base) remove them, or remove knowledge_base_id "
                    "to have the stack create one"
                )
            return self
        if self.private_network:
            missing = [
                f"{name} ({what})"
                for name, what in (
                    (
                        "vpc_endpoint_ids",
                        "the OpenSearch Serverless VPC endpoints allowed to reach the collection",
                    ),
                    ("subnet_ids", "where the index bootstrap Lambda runs; they must reach those endpoints"),
                    ("security_group_ids", "of the index bootstrap Lambda; Lambda requires at least one"),
                )
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError("private_network: true needs " + "; ".join(missing))
        else:
            stray = [n for n in ("vpc_endpoint_ids", "subnet_ids", "security_group_ids") if getattr(self, n)]
            if stray:
                raise ValueError(f"{', '.join(stray)} are only used with private_network: true")
        return self

    @property
    def creates(self) -> bool:
        """True when the stack creates the knowledge base (enabled, no existing id)."""
        return self.enabled and not self.knowledge_base_id


class AgentConfig(_Strict):
    instruction_file: str = Field(default="prompts/agent-instruction-v1.md", description="relative to infra/")
    idle_session_ttl_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="aws_bedrockagent_agent.idle_session_ttl_in_seconds: the provider validates 60..3600",
    )
    alias_name: str = Field(default="live", pattern=r"^([0-9a-zA-Z][_-]?){1,100}$")


class DataConfig(_Strict):
    deletion_protection: bool = True
    kms_deletion_window_days: int = Field(default=30, ge=7, le=30)


class BackendConfig(_Strict):
    """Terraform state: local file by default, or S3 (with native S3 locking)."""

    type: Literal["local", "s3"] = "local"
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    kms_key_id: str | None = None

    @model_validator(mode="after")
    def _s3(self) -> BackendConfig:
        if self.type == "s3" and not (self.bucket and self.key):
            raise ValueError("an s3 backend needs bucket and key")
        return self


class GatewayConfig(_Strict):
    """The AgentCore Gateway front door (MCP). The Classic agent is always deployed (the alarm trigger
    invokes it); ``enabled: true`` adds the gateway next to it.

    ``authorizer`` cannot change after the gateway is created (AgentCore treats the authorizer type as
    immutable: changing it here replaces the gateway, its URL and its targets)."""

    enabled: bool = False
    authorizer: Literal["CUSTOM_JWT", "AWS_IAM"] = Field(
        default="CUSTOM_JWT",
        description="CUSTOM_JWT: a Cognito user pool + CLI app client the stack creates; AWS_IAM: SigV4. "
        "Fixed at creation",
    )
    policy_mode: Literal["LOG_ONLY", "ENFORCE"] = Field(
        default="LOG_ONLY",
        description="Cedar policy engine mode; the in-code scaling policy stays the authority",
    )


class OpsAgentConfig(_Strict):
    env: str = Field(pattern=r"^[a-z][a-z0-9]{0,15}$")
    region: str
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    name_prefix: str = Field(
        pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
        max_length=32,
        description="Prefix of every resource name (lowercase, single hyphens)",
    )
    eks: EksConfig
    model: ModelConfig
    tickets: dict[str, Any] = Field(default_factory=lambda: {"backend": "dynamodb"})
    scaling_policy: dict[str, Any] = Field(default_factory=dict)
    log_retention_days: int = 365
    tags: dict[str, str] = Field(default_factory=dict)
    functions: LambdaConfig = LambdaConfig()
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    knowledge_base: KnowledgeBaseConfig = KnowledgeBaseConfig()
    agent: AgentConfig = AgentConfig()
    data: DataConfig = DataConfig()
    backend: BackendConfig = BackendConfig()
    gateway: GatewayConfig = GatewayConfig()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (e.g. us-east-1)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs accepts only {LOG_RETENTION_DAYS}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 40:
            raise ValueError("at most 40 tags (leave room for the ones the stack adds)")
        bad = [k for k in value if not 1 <= len(k) <= 128 or k.lower().startswith("aws:")]
        if bad:
            raise ValueError(f"invalid tag keys: {bad}")
        return value

    @field_validator("tickets")
    @classmethod
    def _tickets(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_tickets(value)

    @field_validator("scaling_policy")
    @classmethod
    def _policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_policy(value)

    @model_validator(mode="after")
    def _model_is_a_current_agent_model(self) -> OpsAgentConfig:
        """The model must be one Bedrock Agents runs in this region and not past its end of life
        (opsagent_infra.models), unless ``model.allow_unlisted`` says otherwise."""
        from opsagent_infra.models import model_problems

        if self.model.allow_unlisted:
            return self
        problems = model_problems(self.model.id, self.region)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _trigger_fits_agent_session(self) -> OpsAgentConfig:
        """The trigger cuts the agent session off when only ``reserve_seconds`` of the invocation are
        left: a timeout that cannot hold an agent session on top of that makes every investigation skip
        the agent (fallback reason ``timeout``)."""
        if not self.trigger.enabled:
            return self
        reserve = self.trigger.reserve_seconds
        timeout = self.functions.for_function("trigger").timeout_seconds
        need = reserve + MIN_AGENT_SESSION_SECONDS
        if timeout < need:
            where = (
                "functions.overrides.trigger.timeout_seconds"
                if "trigger" in self.functions.overrides
                else "functions.defaults.timeout_seconds"
            )
            raise ValueError(
                f"{where} ({timeout} s) cannot fit an agent session ({MIN_AGENT_SESSION_SECONDS} s) plus "
                f"trigger.settings.reserve_seconds ({reserve} s): set {where} >= {need} (the trigger's "
                f"default is {TRIGGER_DEFAULT_TIMEOUT_SECONDS} s) or lower trigger.settings.reserve_seconds"
            )
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> OpsAgentConfig:
        scaling_ns = set(self.scaling_policy.get("allowed_namespaces", []))
        outside = sorted(scaling_ns - set(self.eks.allowed_namespaces))
        if outside:
            raise ValueError(
                f"scaling_policy.allowed_namespaces {outside} are not in eks.allowed_namespaces: "
                "the scaler RBAC is only bound in eks.allowed_namespaces"
            )
        return self

    # Derived values ---------------------------------------------------------------------------
    @property
    def ticket_secret_arn(self) -> str | None:
        return self.tickets.get("secret_arn")

    @property
    def policy_json(self) -> str:
        return json.dumps(self.scaling_policy, sort_keys=True, separators=(",", ":"))

    @property
    def tickets_json(self) -> str:
        return json.dumps(self.tickets, sort_keys=True, separators=(",", ":"))

    @property
    def trigger_json(self) -> str:
        return json.dumps(self.trigger.document, sort_keys=True, separators=(",", ":"))

    @property
    def instruction_path(self) -> Path:
        return (INFRA_DIR / self.agent.instruction_file).resolve()


def _ensure_lambdas_importable() -> None:
    lambdas = str(REPO_ROOT / "lambdas")
    if lambdas not in sys.path:
        sys.path.insert(0, lambdas)


def validate_policy(value: dict[str, Any]) -> dict[str, Any]:
    """Validate with the scaling helper's own model; the JSON the Lambda receives is the input as
    written (only validated), so defaults stay in one place: the runtime model."""
    _ensure_lambdas_importable()
    from opsagent.scaling.policy import ScalingPolicy

    try:
        ScalingPolicy.model_validate(value)
    except ValidationError as exc:
        raise ValueError("; ".join(_format_errors(exc))) from None
    return value


def validate_tickets(value: dict[str, Any]) -> dict[str, Any]:
    _ensure_lambdas_importable()
    from opsagent.tickets.config import TicketsSettings

    try:
        TicketsSettings.model_validate({"tickets": value})
    except ValidationError as exc:
        raise ValueError("; ".join(p.removeprefix("tickets.") for p in _format_errors(exc))) from None
    return {"backend": "dynamodb", **value}


def validate_trigger(value: dict[str, Any]) -> dict[str, Any]:
    _ensure_lambdas_importable()
    from opsagent.investigation.config import TriggerConfig as RuntimeTriggerConfig

    try:
        RuntimeTriggerConfig.model_validate(value)
    except ValidationError as exc:
        raise ValueError("; ".join(_format_errors(exc))) from None
    return value


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{loc or '(top level)'}: {msg}")
    return problems


def config_path(env: str) -> Path:
    return ENVIRONMENTS_DIR / f"{env}.yaml"


def load_config(env: str | None = None, path: Path | None = None) -> OpsAgentConfig:
    """Read and validate one environment: ``env``, else ``OPSAGENT_ENV`` (what ``make`` passes), else
    ``ENV``, else ``dev``."""
    env = env or os.environ.get("OPSAGENT_ENV") or os.environ.get("ENV") or DEFAULT_ENV
    path = path or config_path(env)
    try:
        source = str(path.relative_to(REPO_ROOT))
    except ValueError:
        source = str(path)
    if not path.is_file():
        known = sorted(p.stem for p in ENVIRONMENTS_DIR.glob("*.yaml"))
        raise ConfigError(source, [f"no such environment file (known environments: {known})"])
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["(top level): must be a mapping"])
    raw.setdefault("env", env)
    if raw["env"] != env:
        raise ConfigError(source, [f"env: says {raw['env']!r} but the file is for {env!r}"])
    try:
        config = OpsAgentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, _format_errors(exc)) from None
    if not config.instruction_path.is_file():
        raise ConfigError(source, [f"agent.instruction_file: {config.instruction_path} does not exist"])
    return config
