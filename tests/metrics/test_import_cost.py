"""The handler module must not load boto3 at import (cold start); the schema must fit Bedrock's subset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_handler_import_does_not_load_boto3():
    code = "import sys; import opsagent.handlers.metrics; print('boto3' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "PYTHONPATH": str(ROOT / "lambdas"),
            "POWERTOOLS_TRACE_DISABLED": "1",
            "AWS_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_schema_operations_and_parameters_fit_bedrock():
    from opsagent.handlers.metrics import app

    schema = json.loads(app.get_openapi_json_schema())
    ops = {
        op["operationId"]: (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }
    assert set(ops) == {"queryMetric", "listActiveAlarms"}
    assert ops["queryMetric"][:2] == ("/metrics", "get") and ops["listActiveAlarms"][:2] == ("/alarms", "get")
    for _, _, op in ops.values():
        assert op["description"] and "requestBody" not in op
        for param in op["parameters"]:
            assert param["description"], param["name"]
            assert param["schema"]["type"] in ("string", "integer"), param
    assert "enum" not in json.dumps(schema)
