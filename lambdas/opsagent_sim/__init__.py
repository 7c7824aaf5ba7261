"""Offline simulators for tests, the drill and demos (never shipped in Lambda zips).

* :mod:`opsagent_sim.k8s` -- the Kubernetes API emulator (``model/`` the cluster and its scenarios,
  ``api/`` the request handling, ``server`` the HTTP(S) server and test controls);
* :mod:`opsagent_sim.drill` -- the offline incident drill and its scenarios;
* :mod:`opsagent_sim.bedrock_runtime` -- a scripted ``bedrock-agent-runtime`` client (InvokeAgent);
* :mod:`opsagent_sim.samples` -- real-format alarm events the drill and the tests start from;
* :mod:`opsagent_sim.pytest_fixtures` -- the ``kube`` / ``kube_factory`` fixtures.
"""
