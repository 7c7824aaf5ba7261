"""OpsAgent runtime package: domain operations, their Lambda adapters and shared plumbing.

Domain modules (``opsagent.pods``, ``opsagent.metrics`` ...) take and return pydantic models and
know nothing of Lambda or Bedrock; ``opsagent.handlers`` adapts them to Bedrock action groups.
"""

__version__ = "0.1.0"
