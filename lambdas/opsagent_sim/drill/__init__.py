"""The offline drill: watch OpsAgent investigate an incident end to end, with no AWS account.

    python -m opsagent_sim.drill                     # the default scenario (cpu-saturation)
    python -m opsagent_sim.drill oom-crashloop       # one scenario (--full: the whole ticket)
    python -m opsagent_sim.drill --list              # what scenarios exist
    python -m opsagent_sim.drill --eval              # all scenarios, pass rate; exit 1 below 100 %

What one run does (nothing is mocked inside OpsAgent; only the outside world is emulated):

1. starts the AWS emulator (moto's ThreadedMotoServer on 127.0.0.1, a free port) and points every
   boto3 client at it (``AWS_ENDPOINT_URL``, fake credentials), and the Kubernetes emulator
   (:class:`~opsagent_sim.k8s.KubeEmulator`) with the scenario's cluster;
2. creates the state, audit and tickets tables with the infra's keys, seeds CloudWatch with the
   scenario's datapoints (timestamps relative to now) and the alarm (``put_metric_alarm`` +
   ``set_alarm_state``, so listActiveAlarms sees it);
3. builds the alarm's EventBridge event from the real-format sample (``opsagent_sim/samples``),
   retimed to now, and hands it to the real trigger, ``opsagent.handlers.trigger.lambda_handler``,
   with no agent configured: the no-model path (runbook steps through the real action groups);
4. prints the investigation (alarm, runbook, each step's key evidence, probable cause,
   proposals), the ticket and the audit trail; delivers the same event again to show the
   de-duplication; checks the scenario's expected findings.

Scenarios live in ``opsagent_sim/drill/scenarios/<name>.yaml`` (see :class:`DrillScenario`); each
ties a Kubernetes scenario (``opsagent_sim/k8s/scenarios``), metric seeds, an alarm and the findings
the investigation must reach. ``--eval`` exits non-zero below 100 %: the no-model investigation is
deterministic, so anything less is a regression, not noise.

Modules: ``scenario`` (the YAML models), ``alarms`` (event + CloudWatch seeds), ``world`` (emulators and
environment), ``runner`` (one run, its checks, the evaluation), ``report`` (printing), ``cli``.
"""

from __future__ import annotations

from opsagent_sim.drill.alarms import alarm_event, build_alarm_event, seed_cloudwatch
from opsagent_sim.drill.cli import eval_main, main
from opsagent_sim.drill.runner import Check, DrillResult, evaluate, run_drill, run_eval
from opsagent_sim.drill.scenario import SCENARIO_DIR, DrillScenario, list_scenarios, load_scenario
from opsagent_sim.drill.world import DrillEnv, drill_environment

__all__ = [
    "SCENARIO_DIR",
    "Check",
    "DrillEnv",
    "DrillResult",
    "DrillScenario",
    "alarm_event",
    "build_alarm_event",
    "drill_environment",
    "eval_main",
    "evaluate",
    "list_scenarios",
    "load_scenario",
    "main",
    "run_drill",
    "run_eval",
    "seed_cloudwatch",
]
