"""The emulated cluster: its objects, their store, and the scenarios that build them."""

from __future__ import annotations

from opsagent_sim.k8s.model.controllers import refresh_deployment, scale_deployment
from opsagent_sim.k8s.model.objects import RESOURCES, ScenarioError, api_version
from opsagent_sim.k8s.model.scenario import SCENARIO_DIR, Builder, bundled_scenarios, load_scenario
from opsagent_sim.k8s.model.store import ClusterState

__all__ = [
    "RESOURCES",
    "SCENARIO_DIR",
    "Builder",
    "ClusterState",
    "ScenarioError",
    "api_version",
    "bundled_scenarios",
    "load_scenario",
    "refresh_deployment",
    "scale_deployment",
]
