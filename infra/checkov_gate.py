"""`python infra/checkov_gate.py <checkov> <cdk.tf.json>`: checkov with per-resource, reasoned skips."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.checkov_gate import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
