"""A short run of the call-home soak (scripts/soak.sh runs long ones)."""

import pytest

import soak


@pytest.mark.slow
def test_call_home_soak_short():
    result = soak.run(duration=20, min_cycles=40)
    assert result["ok"] and result["cycles"] >= 40, result
