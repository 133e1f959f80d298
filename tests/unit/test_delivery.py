"""Delivered means applied: the gaps between what is written and what is applied."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

from allocation.service_layer import delivery

NOW = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
AGO = timedelta(seconds=10)


class Written:
    """The write side: last versions, when each event was written, what was resent."""

    def __init__(self, last: dict[str, int], parked: dict[str, set[int]] | None = None) -> None:
        self.last = last
        self.parked_versions = parked or {}
        self.resent: list[tuple[str, tuple[int, ...]]] = []

    def written_positions(self) -> dict[str, int]:
        return self.last

    def parked(self) -> dict[str, set[int]]:
        return self.parked_versions

    def oldest_written_at(self, events: Mapping[str, int]) -> datetime | None:
        """Version v of any SKU was written (100 - v) seconds ago."""
        if not events:
            return None
        return min(NOW - timedelta(seconds=100 - v) for v in events.values())

    def resend(self, sku: str, versions: Collection[int], older_than: timedelta) -> int:
        self.resent.append((sku, tuple(versions)))
        return len(versions)


class Applied:
    def __init__(self, positions: dict[str, int], beyond: dict[str, set[int]] | None = None):
        self.positions = positions
        self.beyond = beyond or {}
        self.asked: list[tuple[str, int, int]] = []

    def applied_positions(self) -> dict[str, int]:
        return self.positions

    def applied_between(self, sku: str, after: int, upto: int) -> set[int]:
        self.asked.append((sku, after, upto))
        return {v for v in self.beyond.get(sku, set()) if after < v <= upto}


def test_nothing_to_do_when_every_sku_is_applied_up_to_its_last_version():
    read = Applied({"LAMP": 5, "CHAIR": 2})
    assert delivery.gaps(Written({"LAMP": 5, "CHAIR": 2}), read) == []
    assert read.asked == []  # a SKU that is caught up costs nothing more


def test_a_gap_at_the_end_and_a_sku_never_applied():
    found = delivery.gaps(Written({"LAMP": 7, "CHAIR": 2}), Applied({"LAMP": 5}))
    assert found == [delivery.Gap("CHAIR", (1, 2)), delivery.Gap("LAMP", (6, 7))]


def test_a_gap_in_the_middle_leaves_what_was_applied_out_of_order_alone():
    read = Applied({"LAMP": 3}, beyond={"LAMP": {5, 6, 8}})
    assert delivery.gaps(Written({"LAMP": 9}), read) == [delivery.Gap("LAMP", (4, 7, 9))]


def test_dead_lettered_events_are_neither_resent_nor_counted_until_replayed():
    write = Written({"LAMP": 6}, parked={"LAMP": {4}})
    read = Applied({"LAMP": 3}, beyond={"LAMP": {5}})
    assert delivery.reconcile(write, read, AGO) == 1
    assert write.resent == [("LAMP", (6,))]
    lag = delivery.lag(write, read, NOW)
    assert (lag.unapplied, lag.parked) == (1, 1)


def test_a_sku_far_behind_is_looked_at_one_window_at_a_time():
    read = Applied({"LAMP": 10})
    (gap,) = delivery.gaps(Written({"LAMP": 10 + delivery.WINDOW * 3}), read)
    assert gap.versions == tuple(range(11, 11 + delivery.WINDOW))
    assert read.asked == [("LAMP", 10, 10 + delivery.WINDOW)]


def test_reconcile_resends_every_gap_and_counts_what_was_sent():
    write = Written({"LAMP": 7, "CHAIR": 2, "DESK": 1})
    assert delivery.reconcile(write, Applied({"LAMP": 5, "DESK": 1}), AGO) == 4
    assert write.resent == [("CHAIR", (1, 2)), ("LAMP", (6, 7))]


def test_lag_counts_unapplied_events_and_the_age_of_the_oldest():
    lag = delivery.lag(Written({"LAMP": 7, "CHAIR": 2}), Applied({"LAMP": 5}), NOW)
    assert lag.unapplied == 4
    assert lag.oldest_age == timedelta(seconds=99)  # CHAIR v1, the oldest first-missing one
    assert lag.parked == 0


def test_no_lag_has_no_age():
    lag = delivery.lag(Written({"LAMP": 2}), Applied({"LAMP": 2}), NOW)
    assert (lag.unapplied, lag.oldest_age, lag.parked) == (0, None, 0)
