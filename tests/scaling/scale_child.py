"""Run one scaleDeployment through the real handler in its own process (a Lambda container):
``python scale_child.py <event.json> [clock_offset_seconds]``; prints the response body as JSON.
The environment points it at the shared DynamoDB (moto server) and the emulator."""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from pathlib import Path

    event = json.loads(Path(sys.argv[1]).read_text())
    offset = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    if offset:
        from opsagent.state import StateStore

        StateStore.__init__.__kwdefaults__["clock"] = lambda: time.time() + offset
    from opsagent.handlers.scaling import lambda_handler

    class Ctx:
        function_name = "opsagent-scaling"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:opsagent-scaling"
        aws_request_id = "child"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    out = lambda_handler(event, Ctx())
    body = json.loads(out["response"]["responseBody"]["application/json"]["body"])
    print("RESULT " + json.dumps({"status": out["response"]["httpStatusCode"], "body": body}))


if __name__ == "__main__":
    main()
