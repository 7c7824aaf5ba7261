"""The emulator fixtures (``kube``, ``kube_factory``, ``kube_scenario``) -- the model for other areas."""

from opsagent_sim.pytest_fixtures import kube, kube_factory, kube_scenario  # noqa: F401
