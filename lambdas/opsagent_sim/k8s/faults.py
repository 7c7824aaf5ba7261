"""Injected HTTP faults (status, delay, dropped connection) for the next matching requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    method: str
    path: str
    status: int | None = 500
    times: int | None = 1
    delay: float = 0.0
    body: Any = None
    message: str | None = None
    hits: int = 0
    _regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)
        self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method in ("*", method) and bool(self._regex.search(path))
