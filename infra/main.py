"""`make synth`: validate the environment, then write Terraform JSON to cdktf.out/.

Usage: OPSAGENT_ENV=dev .venv/bin/python infra/main.py   (ENV= works too; needs `make build` first)
Output: cdktf.out/stacks/opsagent-<env>/cdk.tf.json (+ assets/ with the zips)
Set OPSAGENT_ALLOW_MISSING_SCHEMAS=1 to synth before schemas/ is generated (placeholder schemas).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.synth import SynthError, synth


def main() -> int:
    start = time.monotonic()
    try:
        result = synth(
            env=os.environ.get("OPSAGENT_ENV") or os.environ.get("ENV"),
            allow_missing_schemas=os.environ.get("OPSAGENT_ALLOW_MISSING_SCHEMAS") == "1",
        )
    except SynthError as exc:
        print(f"synth failed: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"synthesized {result.stack_id} -> {result.tf_json} in {time.monotonic() - start:.1f}s")
    print(f"agent release {result.release}; {result.operations} operations across action groups")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
