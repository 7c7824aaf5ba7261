"""Print the gateway's Cedar policies (or the whole bundle as JSON) for one environment.

    python -m tools.gateway_policy --env dev [--gateway-arn ARN] [--authorizer AWS_IAM] [--json]

Reads ``scaling_policy`` and, when present, ``gateway.policy_mode`` (LOG_ONLY | ENFORCE) from
``infra/environments/<env>.yaml`` — the same values the Lambdas get as ``OPSAGENT_POLICY``. For review
and for the infra wave that deploys the policy engine; nothing here calls AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from opsagent.gateway_policy.cedar import GatewayPolicyBundle, GatewayPolicyConfig, generate
from opsagent.gateway_policy.tools import default_tools
from opsagent.scaling.policy import ScalingPolicy

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_ARN = "${aws_bedrockagentcore_gateway.opsagent.gateway_arn}"


def bundle_for(env: str, *, gateway_arn: str = PLACEHOLDER_ARN, authorizer: str = "CUSTOM_JWT"):
    raw = yaml.safe_load((ROOT / "infra" / "environments" / f"{env}.yaml").read_text()) or {}
    policy = ScalingPolicy.model_validate(raw.get("scaling_policy") or {})
    gateway = raw.get("gateway") or {}
    config = GatewayPolicyConfig.model_validate(
        {"policy_mode": gateway["policy_mode"]} if "policy_mode" in gateway else {}
    )
    return generate(
        policy,
        default_tools(),
        gateway_arn=gateway_arn,
        authorizer=authorizer,  # type: ignore[arg-type]
        config=config,
        name_prefix=raw.get("name_prefix", f"opsagent-{env}"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--gateway-arn", default=PLACEHOLDER_ARN)
    parser.add_argument("--authorizer", choices=["CUSTOM_JWT", "AWS_IAM"], default="CUSTOM_JWT")
    parser.add_argument("--json", action="store_true", help="the bundle (policies, schema, mode) as JSON")
    args = parser.parse_args(argv)
    bundle: GatewayPolicyBundle = bundle_for(
        args.env, gateway_arn=args.gateway_arn, authorizer=args.authorizer
    )
    if args.json:
        json.dump(bundle.model_dump(mode="json"), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(f"// mode: {bundle.mode}\n{bundle.text()}")
        for rule, why in bundle.not_expressible.items():
            sys.stdout.write(f"// not checked at the gateway: {rule} ({why})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
