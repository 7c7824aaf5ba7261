"""``python -m opsagent_sim.drill`` / ``opsagent drill`` and ``opsagent eval`` / ``make eval``."""

from __future__ import annotations

import argparse
import os
import sys

from opsagent_sim.drill.runner import run_drill, run_eval
from opsagent_sim.drill.scenario import list_scenarios, load_scenario

DEFAULT_SCENARIO = "cpu-saturation"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="opsagent drill",
        description="watch OpsAgent investigate an incident end to end, with no AWS account",
    )
    parser.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="scenario name or YAML path")
    parser.add_argument("--eval", action="store_true", help="run every scenario and print the pass rate")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--full", action="store_true", help="print the whole ticket, evidence included")
    parser.add_argument("--verbose", action="store_true", help="print the Lambda log lines too")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    if args.list:
        for name in list_scenarios():
            print(f"{name:<28} {load_scenario(name).title}")
        return 0
    if args.eval:
        return eval_main([])
    result = run_drill(args.scenario, out=sys.stdout, full=args.full, verbose=args.verbose)
    return 0 if result.passed else 1


def eval_main(argv: list[str] | None = None) -> int:
    """``opsagent eval`` / ``make eval``: every scenario (or those named), pass rate, exit 1 below 100 %."""
    parser = argparse.ArgumentParser(
        prog="opsagent eval", description="run drill scenarios, print the pass rate"
    )
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print("OpsAgent drill evaluation (no model: runbook fallback against emulated AWS + Kubernetes)")
    passed, total, _ = run_eval(args.scenarios or list_scenarios(), out=sys.stdout)
    return 0 if total and passed == total else 1
