"""The ``opsagent`` command line: ask/chat with the deployed Bedrock Agent (streaming, traces,
confirmation of changes), and the offline drill/eval (delegated to ``opsagent_sim.drill``)."""
