"""Serve a scenario: ``python -m opsagent_sim.k8s``."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime

from opsagent_sim.k8s.model import bundled_scenarios
from opsagent_sim.k8s.server import KubeEmulator


def main(argv: list[str] | None = None) -> int:
    """``python -m opsagent_sim.k8s [scenario] [--port N] [--tls] [--token T]``: serve a scenario
    until interrupted and print the environment that points OpsAgent at it."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m opsagent_sim.k8s", description=main.__doc__)
    parser.add_argument("scenario", nargs="?", default="cpu-saturation", help=", ".join(bundled_scenarios()))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--token")
    parser.add_argument(
        "--live-clock", action="store_true", help="ages relative to now, not the scenario's now"
    )
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0) if args.live_clock else None
    with KubeEmulator(args.scenario, tls=args.tls, token=args.token, now=now, port=args.port) as kube:
        for key, value in kube.env().items():
            print(f"export {key}={value}")
        print(f"# serving {args.scenario} on {kube.url} (Ctrl-C to stop)", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()  # until Ctrl-C
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
