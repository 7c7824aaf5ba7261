"""Fixtures every test area shares: fake AWS credentials + moto, Lambda context, sample events."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

# No test may reach a real AWS endpoint or publish real telemetry.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = "us-east-1"
os.environ["POWERTOOLS_TRACE_DISABLED"] = "1"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OpsAgentTest")
os.environ.setdefault("POWERTOOLS_DEV", "false")


@dataclass
class FakeLambdaContext:
    function_name: str = "opsagent-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:opsagent-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws():
    """moto's in-process mock of every AWS API for the duration of one test."""
    from moto import mock_aws

    from opsagent.aws import reset_clients

    reset_clients()
    with mock_aws():
        yield
    reset_clients()


# ---- the suite leaves nothing in the temp directory --------------------------------------------
# Emulator TLS directories hold private keys; CA bundles and caches pile up run after run. Everything a
# test needs goes under pytest's tmp_path (``pytest-of-<user>``, pruned by pytest itself); anything else
# new in the temp directory at the end of the session fails the run, naming the entries.

_TMP_IGNORED_PREFIXES = (
    "pytest-of-",  # pytest's own basetemp (tmp_path / tmp_path_factory)
    "jsii-kernel-",  # the jsii runtime's kernel directory (infra synth), removed when its node exits
    ".lark_cache_",  # lark's grammar cache (a dependency of the OpenAPI validator): a cache, no secrets
)


def _private_tmpdir() -> str:
    """One temp directory for this session (and its subprocesses and xdist workers, via TMPDIR), so the
    check below sees only what the suite made: the machine's shared /tmp is written by anything else
    that runs meanwhile. Removed at interpreter exit, after jsii's own atexit cleanup (atexit runs
    handlers last-registered-first and this module is imported before jsii)."""
    import atexit
    import shutil
    import tempfile

    inherited = os.environ.get("OPSAGENT_TEST_TMPDIR")
    if inherited and os.path.isdir(inherited):
        path = inherited
    else:
        path = tempfile.mkdtemp(prefix="opsagent-tests-")
        os.environ["OPSAGENT_TEST_TMPDIR"] = path
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["TMPDIR"] = path
    tempfile.tempdir = path
    return path


_TMPDIR = _private_tmpdir()


def _removed_at_exit(name: str) -> bool:
    """The jsii runtime's own TemporaryDirectory (its embedded ``jsii-runtime.js``), which jsii deletes
    in an atexit hook, after this check runs."""
    return os.path.isfile(os.path.join(_TMPDIR, name, "bin", "jsii-runtime.js"))


def _tmp_entries() -> set[str]:
    try:
        return set(os.listdir(_TMPDIR))
    except OSError:
        return set()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks once
        return
    left = sorted(
        e for e in _tmp_entries() if not e.startswith(_TMP_IGNORED_PREFIXES) and not _removed_at_exit(e)
    )
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the test session left {len(left)} entr(y/ies) in its temp directory: {left}"
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
