"""The benchmark's hot SKU share: each hot trial against the spread trial beside it."""

from __future__ import annotations

from benchmarks.run import Measured, hot_share


def measured(*rates: float) -> Measured:
    return Measured(rates=list(rates))


def test_the_share_is_the_median_of_neighbouring_ratios_not_a_ratio_of_medians():
    # The VM slowed down for the second pair: both trials of it are slow together.
    spread, hot = measured(400, 200, 420), measured(360, 180, 336)
    assert hot_share(spread, hot) == 0.9  # ratios 0.9, 0.9, 0.8
    assert hot.rate / spread.rate < 0.86  # what the ratio of medians said


def test_no_trial_no_share():
    assert hot_share(measured(), measured()) == 0.0
