"""Reusable pytest fixtures for the Kubernetes emulator.

Use them from any test area's ``conftest.py``::

    from opsagent_sim.pytest_fixtures import kube, kube_factory, kube_scenario  # noqa: F401

* ``kube`` -- a running :class:`~opsagent_sim.k8s.KubeEmulator` for the scenario named by the
  ``kube_scenario`` fixture (default ``"cpu-saturation"``; override the fixture in a module/conftest,
  or ``@pytest.mark.parametrize("kube_scenario", ["oom-crashloop"])``), with the ``OPSAGENT_K8S_*``
  variables set through ``monkeypatch`` and ``opsagent.k8s.reset_kube()`` called before and after,
  so ``opsagent.k8s.get_kube()`` talks to it.
* ``kube_factory(scenario=None, **emulator_kwargs)`` -- start more/other emulators inside a test
  (same env handling; the last one started is what ``get_kube()`` uses).

Outside pytest use the context manager :func:`kube_emulator` (sets and restores ``os.environ``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from opsagent_sim.k8s import KubeEmulator

K8S_ENV = ("OPSAGENT_K8S_ENDPOINT", "OPSAGENT_K8S_CA_FILE", "OPSAGENT_K8S_TOKEN", "OPSAGENT_CLUSTER_NAME")


def _reset() -> None:
    from opsagent.k8s import reset_kube

    reset_kube()


@contextmanager
def kube_emulator(scenario: Any = None, *, monkeypatch: Any = None, **kwargs: Any) -> Iterator[KubeEmulator]:
    """Run an emulator and point ``opsagent.k8s.get_kube()`` at it for the duration."""
    with KubeEmulator(scenario, **kwargs) as kube:
        env = kube.env()
        saved = {k: os.environ.get(k) for k in K8S_ENV}
        for key in K8S_ENV:
            if monkeypatch is not None:
                if key in env:
                    monkeypatch.setenv(key, env[key])
                else:
                    monkeypatch.delenv(key, raising=False)
            elif key in env:
                os.environ[key] = env[key]
            else:
                os.environ.pop(key, None)
        _reset()
        try:
            yield kube
        finally:
            _reset()
            if monkeypatch is None:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


@pytest.fixture
def kube_scenario() -> Any:
    """The scenario ``kube`` loads; override this fixture to pick another one."""
    return "cpu-saturation"


@pytest.fixture
def kube(kube_scenario: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeEmulator]:
    with kube_emulator(kube_scenario, monkeypatch=monkeypatch) as emulator:
        yield emulator


@pytest.fixture
def kube_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with ExitStack() as stack:

        def start(scenario: Any = None, **kwargs: Any) -> KubeEmulator:
            return stack.enter_context(kube_emulator(scenario, monkeypatch=monkeypatch, **kwargs))

        yield start
