"""Which SKUs load with their row locked: those that lost a version race lately."""

from allocation.adapters.repository import ContendedSkus


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_sku_is_contended_from_its_conflict_until_the_ttl_passes():
    clock = Clock()
    contended = ContendedSkus(ttl=2.0, clock=clock)
    assert "LAMP" not in contended

    contended.mark("LAMP")
    clock.now += 1.9
    assert "LAMP" in contended
    assert "DESK" not in contended

    clock.now += 0.2
    assert "LAMP" not in contended


def test_every_conflict_renews_the_ttl():
    clock = Clock()
    contended = ContendedSkus(ttl=2.0, clock=clock)
    contended.mark("LAMP")
    clock.now += 1.5
    contended.mark("LAMP")
    clock.now += 1.5
    assert "LAMP" in contended
