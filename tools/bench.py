"""``make bench``: the performance figures (printed, not timed tests; the targets are below).

1. Cold import time of each Lambda entry module, as a ratio to ``import boto3`` measured in the
   same run (fresh interpreter per sample, median of several; target <= 2.0).
2. listPods against the Kubernetes emulator at 50 / 500 / 5,000 pods: wall time through the real
   handler (Bedrock event in, envelope out) and the response body size (target <= 8 KB at 5,000).
3. Synth time of the dev + prod stacks, one CDK Terrain process (skipped with ``--no-synth``; ``make bench``
   builds the zips first).

Figures are printed, not asserted: timing belongs here, not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ["pods", "metrics", "scaling", "tickets", "trigger"]
SAMPLES = 7


def _cold_import_once(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "AWS_REGION": "us-east-1"}
    env.pop("OPSAGENT_XRAY_SDK", None)  # the deployed default: Lambda Active tracing, no SDK recorder
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_imports() -> None:
    """Rounds interleave the baseline with every handler, so load from other processes on the
    machine shifts all of them alike instead of skewing whichever ran during a busy moment."""
    statements = {"import boto3": "import boto3"}
    statements.update({f"opsagent.handlers.{n}": f"import opsagent.handlers.{n}" for n in HANDLERS})
    # Handlers defer boto3 to their first AWS call; what a cold first invocation pays is both.
    statements.update(
        {f"opsagent.handlers.{n} + boto3": f"import opsagent.handlers.{n}, boto3" for n in HANDLERS}
    )
    for statement in statements.values():  # warm the page cache and .pyc files first
        _cold_import_once(statement)
    samples: dict[str, list[float]] = {label: [] for label in statements}
    for _ in range(SAMPLES):
        for label, statement in statements.items():
            samples[label].append(_cold_import_once(statement))
    baseline = statistics.median(samples["import boto3"])
    print(f"cold import, median of {SAMPLES} interleaved fresh interpreters (target: ratio <= 2.0)")
    print("  (handlers import boto3 lazily; '+ boto3' is what the first AWS-calling invocation pays)")
    for label, values in samples.items():
        seconds = statistics.median(values)
        print(f"  {label:<34} {seconds * 1000:7.1f} ms   ratio {seconds / baseline:4.2f}")


def bench_list_pods() -> None:
    from opsagent.k8s import reset_kube
    from opsagent_sim.k8s import KubeEmulator
    from support import bedrock_event  # tests/support: the real Bedrock event shape

    os.environ.update(POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_LOG_LEVEL="ERROR", AWS_REGION="us-east-1")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from opsagent.handlers.pods import lambda_handler

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "bench", 256, "bench"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    print("listPods through the handler against the emulator (target: body <= 8 KB at 5,000 pods)")
    for count in (50, 500, 5000):
        scenario = {
            "generate": [{"namespace": "shop", "deployment": "web", "count": count, "problem_ratio": 0.05}]
        }
        with KubeEmulator(scenario) as kube:
            os.environ.update(kube.env())
            reset_kube()
            event = bedrock_event("pods", "/namespaces/{namespace}/pods", parameters={"namespace": "shop"})
            times, size, status = [], 0, 0
            for _ in range(3):
                t = time.perf_counter()
                result = lambda_handler(event, Context())
                times.append(time.perf_counter() - t)
                body = result["response"]["responseBody"]["application/json"]["body"]
                size, status = len(body.encode()), result["response"]["httpStatusCode"]
            pages = sum(1 for r in kube.requests if r.path.endswith("/pods")) // 3
        print(
            f"  {count:>5} pods: {statistics.median(times) * 1000:8.1f} ms  body {size:>5} bytes "
            f"({size / 1024:.1f} KB)  status {status}  pages read {pages}"
        )


def bench_synth() -> None:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "infra/main.py", "dev", "prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    seconds = time.perf_counter() - t
    state = "ok" if proc.returncode == 0 else f"FAILED: {proc.stderr.strip()[-300:]}"
    print(f"synth (CDK Terrain, dev + prod in one process): {seconds:.1f} s  {state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-synth", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    print(json.dumps({"python": sys.version.split()[0], "cores": os.cpu_count()}))
    bench_imports()
    bench_list_pods()
    if not args.no_synth:
        bench_synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
