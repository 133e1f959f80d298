"""Every event is stored with who asked for the command that raised it, beside the event.

The actor is the entrypoint's to say and the bus's to hand to the Unit of Work; the
domain's commands and events never carry it (only the outbox's stamp, as for the time).
What the system does on its own, or what nobody said, is the system's.
"""

from datetime import UTC, datetime

import pytest

from allocation.domain import commands, events
from allocation.entrypoints import actors
from allocation.service_layer.actor import API_CLIENT, MAX_NAME, SYSTEM, Actor, Kind
from allocation.service_layer.unit_of_work import ConcurrencyError
from tests.fakes import FakeUnitOfWork

ALICE = Actor.user("alice")
BOB = Actor.command_line("bob")


def stored(fake_uow: FakeUnitOfWork) -> list[tuple[Actor, list[str]]]:
    """Each commit's actor and the names of its events."""
    return [(actor, [e.name for e in batch]) for actor, batch in fake_uow.stored_by]


# -- the bus hands the actor to the Unit of Work --------------------------------------------


def test_each_commands_events_are_stored_with_its_actor(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10), ALICE)
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 2), BOB)
    assert stored(fake_uow) == [(ALICE, ["BatchCreated"]), (BOB, ["Allocated"])]


def test_a_command_nobody_names_is_the_systems(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 10))
    assert stored(fake_uow) == [(SYSTEM, ["BatchCreated"])]


def test_lines_allocated_when_stock_arrives_are_the_stock_senders(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 1), ALICE)
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 5), ALICE)
    bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", 5), BOB)
    assert stored(fake_uow)[-1] == (BOB, ["BatchQuantityChanged", "Allocated"])


def test_lines_a_shrinking_batch_moves_are_the_shrinkers(bus_with_fakes, fake_uow):
    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 5), ALICE)
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 5), ALICE)
    bus_with_fakes.handle(commands.ChangeBatchQuantity("b1", 1), BOB)
    assert stored(fake_uow)[-1] == (BOB, ["BatchQuantityChanged", "Deallocated", "OutOfStock"])


def test_a_command_retried_after_a_lost_race_keeps_its_actor(bus_with_fakes, fake_uow):
    real = fake_uow.products.save
    lost: list[str] = []

    def lose_once(product):
        if not lost:
            lost.append(product.sku)
            raise ConcurrencyError("another writer was first")
        real(product)

    bus_with_fakes.handle(commands.CreateBatch("b1", "LAMP", 5), ALICE)
    fake_uow.products.save = lose_once
    bus_with_fakes.backoff = lambda attempt: 0
    bus_with_fakes.handle(commands.Allocate("o1", "LAMP", 1), BOB)
    assert lost == ["LAMP"]
    assert stored(fake_uow)[-1] == (BOB, ["Allocated"])


# -- the domain does not carry it -------------------------------------------------------------


def test_an_events_actor_is_beside_its_payload_not_in_it():
    event = events.Allocated("LAMP", 3, orderid="o1", qty=2, batchref="b1")
    assert "actor" not in event.to_dict()
    at = datetime(2026, 11, 30, tzinfo=UTC)
    back = events.Event.from_dict(event.name, event.to_dict(), at, str(ALICE))
    assert (back, back.actor, back.occurred_at) == (event, "user:alice", at)


# -- stored as one text, read back -----------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "text"),
    [
        (ALICE, "user:alice"),
        (BOB, "cli:bob"),
        (Actor.command_line(), "cli"),
        (Actor.redis("change_batch_quantity"), "redis:change_batch_quantity"),
        (API_CLIENT, "api"),
        (SYSTEM, "system"),
        (Actor.user("a:b"), "user:a:b"),
    ],
)
def test_an_actor_is_stored_as_one_text_and_read_back(actor, text):
    assert str(actor) == text
    assert Actor.parse(text) == actor


def test_a_text_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="'robot' is not a valid Kind"):
        Actor.parse("robot:r2")


def test_a_name_longer_than_a_user_name_is_refused():
    assert Actor.user("a" * MAX_NAME).kind is Kind.USER
    with pytest.raises(ValueError, match="at most 150"):
        Actor.user("a" * (MAX_NAME + 1))


# -- in words, names only for those who may see them -----------------------------------------


@pytest.mark.parametrize(
    ("actor", "with_names", "without"),
    [
        (ALICE, "by alice", "by a user"),
        (BOB, "by bob on the command line", "by the command line"),
        (Actor.command_line(), "by the command line", "by the command line"),
        (Actor.redis("change_batch_quantity"), "by Redis", "by Redis"),
        (API_CLIENT, "by an API client", "by an API client"),
        (SYSTEM, "by the system", "by the system"),
    ],
)
def test_a_history_says_who_in_words(actor, with_names, without):
    assert actors.describe(str(actor), names=True) == with_names
    assert actors.describe(str(actor), names=False) == without


@pytest.mark.parametrize("stored_text", [None, "", "robot:r2"])
def test_a_history_says_nothing_of_an_actor_it_does_not_know(stored_text):
    assert actors.describe(stored_text, names=True) == ""


# -- the command line: the operator ------------------------------------------------------------


def test_an_operator_is_the_name_given_else_the_login_name(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert actors.of_operator("carol") == Actor.command_line("carol")
    assert actors.of_operator() == Actor.command_line("ops")


def test_an_operator_without_a_login_name_is_the_command_line(monkeypatch):
    def no_login() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr("getpass.getuser", no_login)
    assert actors.of_operator() == Actor.command_line()
