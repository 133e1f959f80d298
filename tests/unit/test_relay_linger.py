"""How long the relay lingers after a wake-up: short at a light load, longer as it grows."""

from __future__ import annotations

import pytest

from allocation.entrypoints.relay import SMALL_ROUND, lingering


@pytest.mark.parametrize("last_round", [0, 1, SMALL_ROUND])
def test_a_light_load_gets_the_shortest_linger(last_round):
    assert lingering(last_round, 0.01, 0.04) == 0.01


def test_the_linger_grows_with_the_last_round():
    assert lingering(2 * SMALL_ROUND, 0.01, 0.04) == pytest.approx(0.02)
    assert lingering(3 * SMALL_ROUND, 0.01, 0.04) == pytest.approx(0.03)


def test_the_linger_never_exceeds_the_longest():
    assert lingering(1000, 0.01, 0.04) == 0.04


def test_no_linger_stays_no_linger():
    assert lingering(1000, 0.0, 0.04) == 0.0
