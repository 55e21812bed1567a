"""Test-wide settings."""

from hypothesis import settings

# Hypothesis's default 200 ms deadline per example measures the machine, not the code: on a 2-core
# runner that is also running a benchmark, pure-function property tests exceeded it and failed.
settings.register_profile("evoflux", deadline=None)
settings.load_profile("evoflux")
