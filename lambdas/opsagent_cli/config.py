"""Where the CLI finds the agent: flags, the deployed stack's Terraform outputs, or the environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

AGENT_ID = re.compile(r"^[0-9a-zA-Z]{1,10}$")
TERRAFORM_TIMEOUT_SECONDS = 120
OUTPUT_AGENT_ID = "agent_id"
OUTPUT_ALIAS_ID = "agent_alias_id"

Runner = Callable[..., subprocess.CompletedProcess]


class ConfigError(Exception):
    """Usage or configuration problem: the CLI prints it and exits 2."""


@dataclass(frozen=True)
class AgentTarget:
    agent_id: str
    alias_id: str
    region: str
    source: str  # where the ids came from, for --trace


def default_stack_dir(env: str) -> Path:
    return Path("cdktf.out") / "stacks" / f"opsagent-{env}"


def terraform_outputs(directory: Path, runner: Runner = subprocess.run) -> dict[str, object]:
    """``terraform output -json`` in ``directory`` -> {name: value}; ConfigError with the reason."""
    if not directory.is_dir():
        raise ConfigError(
            f"{directory} does not exist: synthesize and apply the stack first (make synth, make deploy) "
            "or pass --from-terraform DIR"
        )
    try:
        done = runner(
            ["terraform", "output", "-json"],
            cwd=str(directory),
            capture_output=True,
            text=True,
            timeout=TERRAFORM_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError("terraform is not installed or not on PATH (needed by --from-terraform)") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"`terraform output -json` in {directory} took longer than {TERRAFORM_TIMEOUT_SECONDS}s"
        ) from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout or "").strip()[-800:]
        raise ConfigError(
            f"`terraform output -json` failed in {directory} (exit {done.returncode}): {detail}"
        )
    try:
        raw = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"`terraform output -json` in {directory} did not print JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"`terraform output -json` in {directory} printed {type(raw).__name__}, not an object"
        )
    return {name: (item.get("value") if isinstance(item, dict) else item) for name, item in raw.items()}


def resolve_target(
    *,
    agent_id: str | None,
    alias_id: str | None,
    from_terraform: str | None,
    env: str,
    region: str | None,
    environ: Mapping[str, str] | None = None,
    runner: Runner = subprocess.run,
) -> AgentTarget:
    """Precedence: --agent-id/--alias-id, then --from-terraform (when given), then
    OPSAGENT_AGENT_ID/OPSAGENT_AGENT_ALIAS_ID. Region: --region, then AWS_REGION/AWS_DEFAULT_REGION."""
    environ = os.environ if environ is None else environ
    sources = []
    agent, alias = agent_id, alias_id
    if agent or alias:
        sources.append("flags")
    if (not agent or not alias) and from_terraform is not None:
        directory = Path(from_terraform) if from_terraform else default_stack_dir(env)
        outputs = terraform_outputs(directory, runner)
        missing = [n for n in (OUTPUT_AGENT_ID, OUTPUT_ALIAS_ID) if not outputs.get(n)]
        if missing:
            raise ConfigError(
                f"terraform outputs in {directory} lack {', '.join(missing)} (has the stack been applied?); "
                f"found: {', '.join(sorted(outputs)) or 'no outputs'}"
            )
        agent = agent or str(outputs[OUTPUT_AGENT_ID])
        alias = alias or str(outputs[OUTPUT_ALIAS_ID])
        sources.append(f"terraform outputs in {directory}")
    if not agent or not alias:
        env_agent, env_alias = environ.get("OPSAGENT_AGENT_ID"), environ.get("OPSAGENT_AGENT_ALIAS_ID")
        if env_agent or env_alias:
            sources.append("environment")
        agent, alias = agent or env_agent, alias or env_alias
    if not agent or not alias:
        which = " and ".join(n for n, v in (("agent id", agent), ("alias id", alias)) if not v)
        raise ConfigError(
            f"no {which}: pass --agent-id/--alias-id, set OPSAGENT_AGENT_ID/OPSAGENT_AGENT_ALIAS_ID, "
            "or use --from-terraform [DIR] (default cdktf.out/stacks/opsagent-<env>)"
        )
    for label, value in (("agent id", agent), ("alias id", alias)):
        if not AGENT_ID.fullmatch(value):
            raise ConfigError(f"{label} {value!r} is not 1-10 letters and digits")
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION")
    return AgentTarget(agent_id=agent, alias_id=alias, region=region, source=" + ".join(sources))
