"""Cedar policies for the AgentCore Gateway's policy engine, generated from the scaling policy.

Defence in depth: the in-code policy (:mod:`opsagent.scaling.policy`) stays the authority; the gateway
refuses what the static rules refuse before a Lambda runs. See :mod:`opsagent.gateway_policy.cedar`.
"""
