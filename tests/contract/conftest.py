"""Hypothesis profiles for the property tests in this folder.

CI (``CI=true``): derandomized, a large example budget, so every run checks the same cases.
Locally: random, a smaller budget, and the seed printed so a failure can be replayed with
``pytest --hypothesis-seed=<seed>``. ``HYPOTHESIS_PROFILE`` picks one explicitly."""

from __future__ import annotations

import os
import random

from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=200, print_blob=True)
settings.register_profile("dev", max_examples=60, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


def pytest_report_header(config):
    profile = settings.get_profile(settings._current_profile)
    seed = config.getoption("hypothesis_seed", None)
    if seed is None and not profile.derandomize:
        seed = random.randrange(2**32)
        config.option.hypothesis_seed = seed
    return f"hypothesis profile: {settings._current_profile} (derandomize={profile.derandomize}, seed={seed})"
