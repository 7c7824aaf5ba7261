"""`python infra/policy_scan.py <cdk.tf.json>`: the offline IAM policy analyzer (exit 1 on findings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.policy_scan import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
