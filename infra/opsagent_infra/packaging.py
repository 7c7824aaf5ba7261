"""Reproducible Lambda zips: one per function, built for the runtime the stack declares.

``make build`` (= ``.venv/bin/python infra/build.py``) writes::

    build/lambda/<function>.zip      one per function (pods, metrics, scaling, tickets, trigger)
    build/lambda/vector_index.zip    the knowledge base's index bootstrap (see below)
    build/manifest.json              runtime, architecture, platform, and per zip: handler, sha256,
                                     size, files, whether third-party packages are bundled

What goes into a zip:

* the third-party packages of ``requirements/runtime.txt`` (already locked for
  ``aarch64-manylinux2014`` / CPython 3.12), installed with ``uv pip install --target`` using
  ``--only-binary :all:`` so every compiled extension is an aarch64 cp312 wheel, never a local build;
* the ``opsagent`` package from ``lambdas/`` (not ``opsagent_sim`` / ``opsagent_cli``);
* for the trigger only: ``knowledge_base/runbooks/*.md`` as ``opsagent/runbooks/data/`` (the runbook
  loader's in-zip fallback path).

``vector_index.zip`` (handler ``opsagent.vector_index.handler.lambda_handler``, invoked once per
apply by the knowledge base construct) is *slim*: only ``opsagent/__init__.py`` and
``opsagent/vector_index/``, no third-party packages. That module uses the standard library plus the
runtime's botocore (SigV4 signer) and urllib3, so the zip is a few KB and holds no code the index
bootstrap does not run (tested: every import in it resolves to the stdlib, botocore, urllib3 or a
file in the zip).

Left out on purpose: the AWS SDK closure (boto3, botocore, s3transfer, jmespath, python-dateutil,
six). The python3.12 Lambda runtime ships boto3 and these dependencies; botocore alone is ~13 MB
zipped and would blow the 15 MB budget of every zip, and the runtime's SDK gets AWS's security
patches without a redeploy. The price: the SDK version in Lambda is the runtime's, not the pin in
``pyproject.toml``; the functions use long-stable APIs only (DynamoDB, CloudWatch, EKS
DescribeCluster, STS presign, Secrets Manager, bedrock-agent-runtime InvokeAgent). ``urllib3`` *is*
bundled: the Kubernetes client is written against urllib3 2.x and must not depend on the SDK's
vintage (botocore accepts urllib3 2.x on Python >= 3.10).

Reproducible: entries sorted by archive name, every timestamp 1980-01-01, fixed permissions
(0644), no directories, no ``__pycache__``/``*.pyc``, fixed compression level. The same inputs
give the same bytes (tested), so ``source_code_hash`` only changes when the code does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opsagent_infra import REPO_ROOT

# The single source of truth for what the stack declares and what the build targets.
RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
PYTHON_VERSION = "3.12"
PYTHON_PLATFORM = "aarch64-manylinux2014"
ELF_MACHINE_AARCH64 = 0xB7
SO_TAG = "cpython-312-aarch64-linux-gnu"

# The stack's functions (OpsAgentFunction, handler opsagent.handlers.<name>), full package + dependencies.
FUNCTIONS: tuple[str, ...] = ("pods", "metrics", "scaling", "tickets", "trigger")
ACTION_GROUP_FUNCTIONS: tuple[str, ...] = ("pods", "metrics", "scaling", "tickets")
# The knowledge base's index bootstrap Lambda (created by RunbookKnowledgeBase when the KB is enabled).
VECTOR_INDEX = "vector_index"
# Slim zips: only these paths of lambdas/ (files or packages), no third-party packages.
SLIM_ZIPS: dict[str, tuple[str, ...]] = {VECTOR_INDEX: ("opsagent/__init__.py", "opsagent/vector_index")}
# Every zip `make build` writes (and build/manifest.json lists).
ZIPS: tuple[str, ...] = (*FUNCTIONS, VECTOR_INDEX)
_HANDLERS = {VECTOR_INDEX: "opsagent.vector_index.handler.lambda_handler"}
SIZE_BUDGET_BYTES = 15 * 1024 * 1024

# Provided by the Lambda python3.12 runtime (boto3 and its dependency closure); see module doc.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six")

BUILD_DIR = REPO_ROOT / "build"
ZIP_DIR = BUILD_DIR / "lambda"
MANIFEST = BUILD_DIR / "manifest.json"
DEPS_CACHE = BUILD_DIR / "deps"
LOCK_FILE = REPO_ROOT / "requirements" / "runtime.txt"
PACKAGE_DIR = REPO_ROOT / "lambdas" / "opsagent"
RUNBOOKS_DIR = REPO_ROOT / "knowledge_base" / "runbooks"
RUNBOOKS_IN_ZIP = "opsagent/runbooks/data"

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


def handler_for(function: str) -> str:
    """The Lambda handler string: ``opsagent.handlers.<function>.lambda_handler`` (the contract for the
    stack's functions), except for the zips that are not action-group/trigger adapters."""
    return _HANDLERS.get(function, f"opsagent.handlers.{function}.lambda_handler")


def handler_module(function: str) -> str:
    """The archive name of the module holding the handler (``opsagent/handlers/pods.py``)."""
    return handler_for(function).rsplit(".", 1)[0].replace(".", "/") + ".py"


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def filtered_requirements(lock_text: str) -> list[str]:
    """The ``name==version`` pins of the lock without the runtime-provided packages."""
    skip = {_normalize(n) for n in RUNTIME_PROVIDED}
    pins = []
    for line in lock_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = line.split("==", 1)[0].split("[", 1)[0].strip()
        if _normalize(name) not in skip:
            pins.append(line)
    return sorted(pins)


def _uv() -> str:
    candidate = REPO_ROOT / ".venv" / "bin" / "uv"
    return str(candidate) if candidate.exists() else (shutil.which("uv") or "uv")


def install_dependencies(cache_dir: Path = DEPS_CACHE) -> Path:
    """Install the locked third-party packages for aarch64/cp312 into a cache directory keyed by
    the pins, and return it (a second build with the same lock reuses it)."""
    pins = filtered_requirements(LOCK_FILE.read_text())
    key = hashlib.sha256("\n".join([PYTHON_PLATFORM, PYTHON_VERSION, *pins]).encode()).hexdigest()[:16]
    target = cache_dir / key
    if (target / ".complete").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(pins) + "\n")
    try:
        subprocess.run(
            [
                _uv(),
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--python-platform",
                PYTHON_PLATFORM,
                "--python-version",
                PYTHON_VERSION,
                "--link-mode",
                "copy",
                "--target",
                str(target),
                "-r",
                req.name,
            ],
            check=True,
        )
    finally:
        os.unlink(req.name)
    (target / ".complete").write_text("\n".join(pins) + "\n")
    return target


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if not name.endswith(_SKIP_SUFFIXES) and name != ".complete":
                yield Path(dirpath) / name


def collect_files(function: str, deps_dir: Path) -> dict[str, Path]:
    """Archive name -> source file for one function."""
    files: dict[str, Path] = {}
    if function in SLIM_ZIPS:
        lambdas_dir = PACKAGE_DIR.parent
        for rel in SLIM_ZIPS[function]:
            source = lambdas_dir / rel
            for path in [source] if source.is_file() else _walk(source):
                files[path.relative_to(lambdas_dir).as_posix()] = path
        return files
    for path in _walk(deps_dir):
        rel = path.relative_to(deps_dir)
        if rel.parts[0] == "bin":  # console scripts of the wheels: useless in Lambda
            continue
        files[rel.as_posix()] = path
    for path in _walk(PACKAGE_DIR):
        files["opsagent/" + path.relative_to(PACKAGE_DIR).as_posix()] = path
    if function == "trigger" and RUNBOOKS_DIR.is_dir():
        for path in sorted(RUNBOOKS_DIR.glob("*.md")):
            files[f"{RUNBOOKS_IN_ZIP}/{path.name}"] = path
    return files


def write_zip(files: dict[str, Path], dest: Path) -> None:
    """Deterministic zip: sorted names, fixed time and mode, fixed compression."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits are honoured
            zf.writestr(info, files[name].read_bytes(), compresslevel=9)
    tmp.replace(dest)


@dataclass(frozen=True)
class BuiltZip:
    function: str
    path: Path
    sha256: str
    base64sha256: str
    size: int
    files: int
    handler_present: bool

    def as_manifest(self, build_dir: Path) -> dict:
        return {
            "zip": self.path.relative_to(build_dir).as_posix(),
            "handler": handler_for(self.function),
            "third_party_bundled": self.function not in SLIM_ZIPS,
            "sha256": self.sha256,
            "base64sha256": self.base64sha256,
            "size": self.size,
            "files": self.files,
            "handler_present": self.handler_present,
        }


def digest(path: Path) -> tuple[str, str]:
    raw = hashlib.sha256(path.read_bytes()).digest()
    return raw.hex(), base64.b64encode(raw).decode()


def build_function(function: str, deps_dir: Path, out_dir: Path = ZIP_DIR) -> BuiltZip:
    if function not in ZIPS:
        raise ValueError(f"unknown function {function!r}; known: {ZIPS}")
    files = collect_files(function, deps_dir)
    dest = out_dir / f"{function}.zip"
    write_zip(files, dest)
    hexdigest, b64 = digest(dest)
    return BuiltZip(
        function, dest, hexdigest, b64, dest.stat().st_size, len(files), handler_module(function) in files
    )


def build_all(
    build_dir: Path = BUILD_DIR, functions: tuple[str, ...] = ZIPS, deps_cache: Path = DEPS_CACHE
) -> dict:
    """Build every zip and write the manifest (zip paths relative to ``build_dir``); returns it."""
    deps = install_dependencies(deps_cache)
    built = [build_function(f, deps, build_dir / "lambda") for f in functions]
    manifest = {
        "runtime": RUNTIME,
        "architecture": ARCHITECTURE,
        "python_version": PYTHON_VERSION,
        "python_platform": PYTHON_PLATFORM,
        "runtime_provided": list(RUNTIME_PROVIDED),
        "size_budget_bytes": SIZE_BUDGET_BYTES,
        "lock_sha256": hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest(),
        "functions": {b.function: b.as_manifest(build_dir) for b in built},
    }
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_manifest(path: Path = MANIFEST) -> dict:
    """The manifest with every function's ``zip`` resolved to an absolute path."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make build` before `make synth`")
    manifest = json.loads(path.read_text())
    for item in manifest.get("functions", {}).values():
        zip_path = (path.parent / item["zip"]).resolve()
        if not zip_path.is_file():
            raise FileNotFoundError(f"{zip_path} listed in {path} is missing: run `make build`")
        item["zip_path"] = str(zip_path)
    return manifest
