"""boto3 clients shared across invocations of one container, with bounded retries and timeouts.

``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points every client at an emulator offline."""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

# At DEBUG botocore logs every response body (SecretString included) and the signed request headers
# (the session token): never let a DEBUG log level for the function print credentials.
for _name in ("botocore.parsers", "botocore.endpoint", "botocore.auth"):
    logging.getLogger(_name).setLevel(logging.INFO)


@cache
def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_appid="opsagent",
    )
    return boto3.session.Session().client(
        service,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        config=config,
    )


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
