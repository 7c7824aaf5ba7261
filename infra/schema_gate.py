"""`python infra/schema_gate.py <cdk.tf.json>...`: the provider-schema gate (exit 1 on findings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.schema_gate import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
