"""`make synth`: validate the environment, then write Terraform JSON to cdktf.out/.

Usage: OPSAGENT_ENV=dev .venv/bin/python infra/main.py   (ENV= works too; needs `make build` first)
       .venv/bin/python infra/main.py dev prod          (several environments, one cdktn App)
Output: cdktf.out/stacks/opsagent-<env>/cdk.tf.json (+ assets/ with the zips)
Set OPSAGENT_ALLOW_MISSING_SCHEMAS=1 to synth before schemas/ is generated (placeholder schemas).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.synth import SynthError, synth_environments


def main(argv: list[str] | None = None) -> int:
    start = time.monotonic()
    envs = list(sys.argv[1:] if argv is None else argv) or [
        os.environ.get("OPSAGENT_ENV") or os.environ.get("ENV") or None
    ]
    try:
        results = synth_environments(
            envs, allow_missing_schemas=os.environ.get("OPSAGENT_ALLOW_MISSING_SCHEMAS") == "1"
        )
    except SynthError as exc:
        print(f"synth failed: {exc}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - start
    for result in results.values():
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"synthesized {result.stack_id} -> {result.tf_json}")
        print(f"  agent release {result.release}; {result.operations} operations across action groups")
    print(f"synth of {', '.join(results)} in {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
