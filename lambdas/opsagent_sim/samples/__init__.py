"""Real-format sample events (CloudWatch alarm state changes as EventBridge delivers them) that the
drill retimes and the tests read (``load_sample("alarm-single-metric")``)."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent


def sample_names() -> list[str]:
    return sorted(p.stem for p in SAMPLES_DIR.glob("*.json"))


def load_sample(name: str) -> dict:
    """A sample by file name without ``.json`` (a fresh copy each call)."""
    path = SAMPLES_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no sample event {name!r}; bundled: {', '.join(sample_names())}")
    return json.loads(path.read_text())
