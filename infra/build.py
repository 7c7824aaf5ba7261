"""`make build`: one reproducible zip per Lambda function + build/manifest.json.

Usage: .venv/bin/python infra/build.py [function ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opsagent_infra.packaging import SIZE_BUDGET_BYTES, ZIPS, build_all


def main(argv: list[str]) -> int:
    wanted = tuple(argv) or ZIPS
    unknown = sorted(set(wanted) - set(ZIPS))
    if unknown:
        print(f"unknown function(s) {unknown}; known: {list(ZIPS)}", file=sys.stderr)
        return 2
    start = time.monotonic()
    manifest = build_all(functions=wanted)
    over = []
    for name, item in manifest["functions"].items():
        size_mb = item["size"] / 1e6
        print(f"  build/{item['zip']:<22} {size_mb:6.2f} MB  {item['files']:5d} files  {item['sha256'][:12]}")
        if not item["handler_present"]:
            print(f"  warning: {item['handler']} is not in {name}.zip (its module is missing)")
        if item["size"] > SIZE_BUDGET_BYTES:
            over.append(name)
    print(
        f"built {len(manifest['functions'])} zips for {manifest['runtime']}/{manifest['architecture']} "
        f"in {time.monotonic() - start:.1f}s"
    )
    if over:
        print(f"over the {SIZE_BUDGET_BYTES / 2**20:.0f} MiB budget: {over}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
