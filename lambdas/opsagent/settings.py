"""Typed configuration read from the environment at the edge of every entry point.

Each area owns its settings model (``opsagent.k8s.settings``, the scaling policy, the ticket
backend ...) and loads it with :func:`load_settings`, which turns pydantic's errors into one
:class:`~opsagent.errors.ConfigurationError` naming every bad variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from opsagent.errors import ConfigurationError

ENV_PREFIX = "OPSAGENT_"
M = TypeVar("M", bound=BaseModel)


def env_name(field: str, prefix: str = ENV_PREFIX) -> str:
    return f"{prefix}{field.upper()}"


def load_settings(model: type[M], environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> M:
    """Build ``model`` from ``PREFIX_FIELD`` variables. Values that look like JSON objects or
    arrays are decoded, so a nested model can come from one variable."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name, field in model.model_fields.items():
        key = env_name(field.alias or name, prefix)
        if key not in environ:
            continue
        value = environ[key]
        if value.startswith(("[", "{")):
            try:
                raw[name] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"{key} is not valid JSON: {exc.msg}", variable=key) from None
        else:
            raw[name] = value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_where(err['loc'], prefix)}: {err['msg']}" for err in exc.errors()]
        raise ConfigurationError("invalid configuration: " + "; ".join(problems), problems=problems) from None


def _where(loc: tuple, prefix: str) -> str:
    """``OPSAGENT_POLICY.max_step`` for a nested field, ``OPSAGENT_REGION`` for a flat one."""
    head, *rest = [str(p) for p in loc] or ["settings"]
    return env_name(head, prefix) + "".join(f".{p}" for p in rest)
