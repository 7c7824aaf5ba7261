"""The deployment-wide read allowlist, ``OPSAGENT_ALLOWED_NAMESPACES``.

A comma list (``shop,payments``) or a JSON array; unset or blank means every namespace is readable.
Pods, metrics (Container Insights ``Namespace`` dimension) and scaling all refuse outside it with
the same rule name, ``allowed_namespaces``, before any call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

from opsagent.errors import ConfigurationError, PolicyRefused

ALLOWED_NAMESPACES_ENV = "OPSAGENT_ALLOWED_NAMESPACES"
RULE = "allowed_namespaces"


def parse_allowlist(raw: str | Iterable[str] | None) -> frozenset[str] | None:
    """``None`` when nothing is listed (every namespace allowed), else the set of names."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"{ALLOWED_NAMESPACES_ENV} is not valid JSON: {exc.msg}", variable=ALLOWED_NAMESPACES_ENV
                ) from None
            if not isinstance(raw, list):
                raise ConfigurationError(f"{ALLOWED_NAMESPACES_ENV} must be a JSON array or a comma list")
        else:
            raw = text.split(",")
    names = frozenset(str(item).strip() for item in raw if str(item).strip())
    return names or None


def allowed_namespaces(environ: Mapping[str, str] | None = None) -> frozenset[str] | None:
    environ = os.environ if environ is None else environ
    return parse_allowlist(environ.get(ALLOWED_NAMESPACES_ENV))


def check_read_allowed(namespace: str, allowed: frozenset[str] | None) -> None:
    """Raise ``PolicyRefused`` (403, rule ``allowed_namespaces``) for a namespace outside ``allowed``."""
    if allowed is not None and namespace not in allowed:
        listed = sorted(allowed)[:20]
        raise PolicyRefused(
            f"namespace {namespace!r} is outside this agent's allowed namespaces "
            f"({ALLOWED_NAMESPACES_ENV}); reads are limited to: {', '.join(listed)}",
            rule=RULE,
            limit=listed,
        )
