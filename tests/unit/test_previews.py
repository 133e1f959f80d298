"""A preview says what a command would do, computed as the command then does it, and
writes nothing; a confirmation that no longer matches its preview is refused whole."""

import pytest

from allocation.domain import commands
from allocation.domain.changes import WAITING, LineMove, Spot
from allocation.domain.model import UnknownBatch, UnknownLine
from allocation.service_layer.handlers import InvalidSku, PreviewOutdated
from tests.unit.builders import LATER


@pytest.fixture
def chairs(bus_with_fakes, fake_uow):
    """CHAIR: 10 in the warehouse (wh), 4 arriving later (ship); o1, o2 and o3 in wh."""
    for command in [
        commands.CreateBatch("wh", "CHAIR", 10),
        commands.CreateBatch("ship", "CHAIR", 4, LATER),
        commands.Allocate("o1", "CHAIR", 3),
        commands.Allocate("o2", "CHAIR", 3),
        commands.Allocate("o3", "CHAIR", 3),
    ]:
        bus_with_fakes.handle(command)
    fake_uow.committed = False
    return bus_with_fakes


def state(fake_uow):
    """The stored product (a Unit of Work of its own: as stored, not as last handled)."""
    with fake_uow:
        product = fake_uow.products.get("CHAIR")
        batches = {
            b.reference: (b.purchased_quantity, b.allocated_quantity) for b in product.batches
        }
        lines = {o: product.line_state(o) for o in ("o1", "o2", "o3")}
    return product.version_number, batches, lines, len(fake_uow.published)


def test_a_preview_writes_nothing_and_is_what_the_change_then_does(chairs, fake_uow):
    before = state(fake_uow)
    preview = chairs.preview(commands.ChangeBatchQuantity("wh", 3))
    assert preview.moves == (
        LineMove("o3", 3, Spot("wh"), WAITING),
        LineMove("o2", 3, Spot("wh"), Spot("ship", LATER)),
    )
    assert (preview.before, preview.after, preview.allocated) == (10, 3, 9)
    assert state(fake_uow) == before
    assert not fake_uow.committed

    done = chairs.handle(commands.ChangeBatchQuantity("wh", 3, previewed=preview.fingerprint))
    assert done == preview
    assert fake_uow.committed
    assert [e.name for e in fake_uow.published[before[3] :]] == [
        "BatchQuantityChanged",
        "Deallocated",
        "Deallocated",
        "Allocated",
        "OutOfStock",
    ]


def test_a_confirmation_that_no_longer_matches_its_preview_changes_nothing(chairs, fake_uow):
    preview = chairs.preview(commands.ChangeBatchQuantity("wh", 3))
    chairs.handle(commands.Allocate("o4", "CHAIR", 1))  # meanwhile: o4 takes the last unit
    fake_uow.committed = False
    before = state(fake_uow)
    with pytest.raises(PreviewOutdated) as refused:
        chairs.handle(commands.ChangeBatchQuantity("wh", 3, previewed=preview.fingerprint))
    assert state(fake_uow) == before
    assert not fake_uow.committed
    now = refused.value.change
    assert now == chairs.preview(commands.ChangeBatchQuantity("wh", 3))
    assert [m.orderid for m in now.moves] == ["o4", "o3", "o2"]


def test_a_change_without_a_preview_is_not_checked(chairs, fake_uow):
    done = chairs.handle(commands.ChangeBatchQuantity("wh", 3, previewed=None))
    assert [m.orderid for m in done.moves] == ["o3", "o2"]
    assert fake_uow.committed


def test_a_cancellation_preview_writes_nothing_and_matches_the_cancellation(chairs, fake_uow):
    chairs.handle(commands.Allocate("o4", "CHAIR", 5))  # ship has 4: o4 waits
    before = state(fake_uow)
    preview = chairs.preview(commands.Deallocate("o1", "CHAIR"))
    assert preview.spot == Spot("wh")
    assert preview.moves == ()  # 3 freed units are too few for o4's 5
    assert state(fake_uow) == before
    assert chairs.handle(commands.Deallocate("o1", "CHAIR")) == preview
    preview = chairs.preview(commands.Deallocate("o2", "CHAIR"))
    assert preview.moves == (LineMove("o4", 5, WAITING, Spot("wh")),)
    assert chairs.handle(commands.Deallocate("o2", "CHAIR")) == preview


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (commands.ChangeBatchQuantity("nope", 3), UnknownBatch),
        (commands.Deallocate("o1", "NOPE"), InvalidSku),
        (commands.Deallocate("o9", "CHAIR"), UnknownLine),
    ],
)
def test_a_preview_refuses_what_the_command_would_refuse(chairs, fake_uow, command, error):
    before = state(fake_uow)
    with pytest.raises(error):
        chairs.preview(command)
    assert state(fake_uow) == before
