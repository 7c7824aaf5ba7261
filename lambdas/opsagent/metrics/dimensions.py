"""CloudWatch dimensions as one flat string: ``Key=Value,Key2=Value2``.

Bedrock hands every parameter over as a string and does not decode lists, so the metric's
dimensions travel in this compact form. Parsing is strict, because CloudWatch matches a metric only
when *all* of its dimensions are given exactly; a silently "fixed" typo would just return nothing.

* items are separated by ``,``; each item is ``Name=Value`` split at the first ``=``;
* whitespace around names and values is removed; empty items (``a=1,,b=2``, a trailing comma) are errors;
* values may contain ``/``, ``:``, ``=``, ``@``, ``#``, spaces ... (ALB ``app/shop-alb/50dc6c495c0c9188``,
  ARNs), but not ``,`` (the separator) or control characters;
* names are 1-255 printable ASCII characters, not starting with ``:``; values 1-1024 (CloudWatch's limits);
* a name may appear once; at most :data:`MAX_DIMENSIONS` items (CloudWatch's per-metric limit).
"""

from __future__ import annotations

from opsagent.errors import InvalidInput

#: CloudWatch allows 30 dimensions per metric (botocore model: ``Dimensions`` max 30).
MAX_DIMENSIONS = 30
MAX_NAME = 255
MAX_VALUE = 1024
#: The whole parameter; 30 * (255 + 1024) would be absurd for a tool call.
MAX_TEXT = 4096


def _printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_dimensions(text: str | None) -> dict[str, str]:
    """``"LoadBalancer=app/shop/50dc,AvailabilityZone=us-east-1a"`` -> ordered dict.

    Raises :class:`InvalidInput` naming the first problem (the item's position and what is wrong)."""
    if text is None:
        return {}
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"dimensions is {len(text)} characters; at most {MAX_TEXT} allowed", field="dimensions"
        )
    if not text.strip():
        return {}
    items = text.split(",")
    if len(items) > MAX_DIMENSIONS:
        raise InvalidInput(
            f"{len(items)} dimensions given; CloudWatch allows at most {MAX_DIMENSIONS} per metric",
            field="dimensions",
        )
    out: dict[str, str] = {}
    for position, raw in enumerate(items, start=1):
        item = raw.strip()
        where = f"dimension #{position}"
        if not item:
            raise InvalidInput(
                f"{where} is empty (stray or trailing comma?); expected Name=Value,Name2=Value2",
                field="dimensions",
            )
        if "=" not in item:
            raise InvalidInput(
                f"{where} {_clip(item)!r} has no '='; expected Name=Value,Name2=Value2", field="dimensions"
            )
        name, value = (part.strip() for part in item.split("=", 1))
        if not name:
            raise InvalidInput(f"{where} {_clip(item)!r} has an empty name", field="dimensions")
        if not value:
            raise InvalidInput(f"{where} {name!r} has an empty value", field="dimensions")
        if len(name) > MAX_NAME or not _printable_ascii(name) or name.startswith(":"):
            raise InvalidInput(
                f"{where} name {_clip(name)!r} is not a CloudWatch dimension name "
                f"(1-{MAX_NAME} printable ASCII characters, not starting with ':')",
                field="dimensions",
            )
        if len(value) > MAX_VALUE or not _printable_ascii(value):
            raise InvalidInput(
                f"{where} {name!r} has a value that is not 1-{MAX_VALUE} printable ASCII characters",
                field="dimensions",
            )
        if name in out:
            raise InvalidInput(f"{where}: dimension {name!r} is given twice", field="dimensions")
        out[name] = value
    return out


def format_dimensions(dimensions: dict[str, str]) -> str:
    """The inverse of :func:`parse_dimensions` (what queryMetric accepts back)."""
    return ",".join(f"{k}={v}" for k, v in dimensions.items())
