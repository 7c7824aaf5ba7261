"""Lambda zips: built for the declared runtime/architecture, reproducible, within budget."""

from __future__ import annotations

import ast
import hashlib
import struct
import sys
import zipfile
from pathlib import Path

import pytest

from opsagent_infra.packaging import (
    ARCHITECTURE,
    ELF_MACHINE_AARCH64,
    FUNCTIONS,
    RUNBOOKS_DIR,
    RUNBOOKS_IN_ZIP,
    RUNTIME,
    RUNTIME_PROVIDED,
    SIZE_BUDGET_BYTES,
    VECTOR_INDEX,
    ZIPS,
    build_function,
    filtered_requirements,
    handler_for,
    handler_module,
    install_dependencies,
)

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
DEV_ONLY_PACKAGES = {"opsagent_sim", "opsagent_cli", "tests"}


def _zip(manifest, fn) -> zipfile.ZipFile:
    return zipfile.ZipFile(manifest["functions"][fn]["zip_path"])


def test_manifest_records_the_declared_runtime(manifest):
    assert (
        (manifest["runtime"], manifest["architecture"]) == (RUNTIME, ARCHITECTURE) == ("python3.12", "arm64")
    )
    assert manifest["python_platform"] == "aarch64-manylinux2014" and manifest["python_version"] == "3.12"
    assert sorted(manifest["functions"]) == sorted(ZIPS) == sorted([*FUNCTIONS, "vector_index"])
    for fn, item in manifest["functions"].items():
        data = Path(item["zip_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert item["size"] == len(data) and item["handler"] == handler_for(fn)
        assert item["handler_present"] is True
        assert item["third_party_bundled"] is (fn != VECTOR_INDEX)


def test_handlers():
    assert handler_for("pods") == "opsagent.handlers.pods.lambda_handler"
    assert handler_module("pods") == "opsagent/handlers/pods.py"
    assert handler_for(VECTOR_INDEX) == "opsagent.vector_index.handler.lambda_handler"
    assert handler_module(VECTOR_INDEX) == "opsagent/vector_index/handler.py"


def test_lock_filter_drops_the_runtime_sdk_only():
    lock = "boto3==1.0\nbotocore==1.0\n# via x\ns3transfer==0.1\njmespath==1.0\npython-dateutil==2.9\n"
    lock += "six==1.17\nurllib3==2.8.0\npydantic-core==2.50.4\nPyYAML==6.0.3\n"
    assert filtered_requirements(lock) == ["PyYAML==6.0.3", "pydantic-core==2.50.4", "urllib3==2.8.0"]


@pytest.mark.parametrize("fn", ZIPS)
def test_zip_within_size_budget(manifest, fn):
    size = manifest["functions"][fn]["size"]
    assert 0 < size <= SIZE_BUDGET_BYTES, f"{fn}.zip is {size / 2**20:.1f} MiB"


@pytest.mark.parametrize("fn", ZIPS)
def test_zip_contents_and_hygiene(manifest, fn):
    with _zip(manifest, fn) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names), "entries must be sorted"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert all((i.external_attr >> 16) & 0o777 == 0o644 for i in infos)
        assert not any(n.endswith("/") for n in names), "no directory entries"
        assert not any("__pycache__" in n or n.endswith((".pyc", ".pyo")) for n in names)
        tops = {n.split("/", 1)[0] for n in names}
        if fn == VECTOR_INDEX:
            assert tops == {"opsagent"}, "the index bootstrap zip bundles no third-party packages"
        else:
            assert {
                "opsagent",
                "aws_lambda_powertools",
                "pydantic",
                "pydantic_core",
                "yaml",
                "urllib3",
            } <= tops
        assert "bin" not in tops
        provided = {p.replace("python-", "").replace("-", "_") for p in RUNTIME_PROVIDED}
        assert not tops & provided, f"runtime-provided packages bundled: {tops & provided}"
        assert handler_module(fn) in names, f"{handler_for(fn)} has no module in {fn}.zip"


def _imports(source: bytes, name: str) -> set[str]:
    """Absolute module names imported anywhere in a module (also lazily, inside functions)."""
    found = set()
    package = name.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    if not name.endswith("__init__.py"):
        package = package.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            else:
                found.add(node.module or "")
    return found


@pytest.mark.parametrize("fn", ZIPS)
def test_no_dev_only_packages_in_any_zip(manifest, fn):
    """opsagent_sim (emulator, drill) and opsagent_cli are local tools: never shipped, never imported
    by shipped code (an import would only fail in Lambda, at the first call that reaches it)."""
    with _zip(manifest, fn) as zf:
        names = zf.namelist()
        leaked = [n for n in names if DEV_ONLY_PACKAGES & set(n.split("/")[:-1])]
        assert not leaked, f"dev-only packages in {fn}.zip: {leaked[:5]}"
        importing = {
            n: sorted(m for m in _imports(zf.read(n), n) if m.split(".")[0] in DEV_ONLY_PACKAGES)
            for n in names
            if n.startswith("opsagent/") and n.endswith(".py")
        }
        assert not {n: ms for n, ms in importing.items() if ms}, f"{fn}.zip imports dev-only packages"


def test_vector_index_zip_needs_only_stdlib_and_the_runtime_sdk(manifest):
    """The slim zip works in Lambda only if everything it imports is there: the standard library,
    the runtime's botocore/urllib3, or a module inside the zip."""
    source_dir = LAMBDAS / "opsagent" / "vector_index"
    with _zip(manifest, VECTOR_INDEX) as zf:
        names = zf.namelist()
        expected = ["opsagent/__init__.py"] + sorted(
            f"opsagent/vector_index/{p.relative_to(source_dir).as_posix()}"
            for p in source_dir.rglob("*.py")
            if "__pycache__" not in p.parts
        )
        assert names == expected
        modules = {n.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for n in names}
        for name in names:
            for imported in _imports(zf.read(name), name):
                top = imported.split(".")[0]
                if top in sys.stdlib_module_names or top in ("botocore", "urllib3"):
                    continue
                assert imported in modules or imported.rsplit(".", 1)[0] in modules, (
                    f"{name} imports {imported}, which is not in vector_index.zip"
                )


def test_vector_index_zip_has_no_native_code(manifest):
    with _zip(manifest, VECTOR_INDEX) as zf:
        assert not [n for n in zf.namelist() if not n.endswith(".py")]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_native_code_is_aarch64_cp312(manifest, fn):
    with _zip(manifest, fn) as zf:
        shared = [n for n in zf.namelist() if n.endswith(".so") or ".so." in n]
        assert shared, "expected compiled extensions (pydantic_core, yaml)"
        for name in shared:
            assert "x86_64" not in name and ("cpython-312-aarch64-linux-gnu" in name or ".abi3." in name), (
                name
            )
            head = zf.read(name)[:20]
            assert head[:4] == b"\x7fELF" and head[4] == 2, f"{name}: not a 64-bit ELF"
            (machine,) = struct.unpack("<H", head[18:20])
            assert machine == ELF_MACHINE_AARCH64, f"{name}: e_machine {machine:#x} is not aarch64"
        tags = [
            line.split(":", 1)[1].strip()
            for n in zf.namelist()
            if n.endswith(".dist-info/WHEEL")
            for line in zf.read(n).decode().splitlines()
            if line.startswith("Tag:")
        ]
        assert tags
        for tag in tags:
            py, abi, plat = tag.split("-")
            assert plat == "any" or ("aarch64" in plat and plat.startswith("manylinux")), tag
            assert plat == "any" or py in ("cp312", "cp37", "cp38", "cp39") and abi in ("cp312", "abi3"), tag


def test_runbooks_ship_in_the_trigger_zip_only(manifest):
    runbooks = sorted(p.name for p in RUNBOOKS_DIR.glob("*.md")) if RUNBOOKS_DIR.is_dir() else []
    with _zip(manifest, "trigger") as zf:
        shipped = sorted(n.rsplit("/", 1)[1] for n in zf.namelist() if n.startswith(RUNBOOKS_IN_ZIP + "/"))
    assert shipped == runbooks
    with _zip(manifest, "pods") as zf:
        assert not any(n.startswith(RUNBOOKS_IN_ZIP + "/") for n in zf.namelist())


@pytest.mark.parametrize("fn", ["trigger", VECTOR_INDEX])
def test_build_is_reproducible(tmp_path, fn):
    deps = install_dependencies()  # cached by the session build
    first = build_function(fn, deps, tmp_path / "a")
    second = build_function(fn, deps, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 and first.base64sha256 == second.base64sha256
