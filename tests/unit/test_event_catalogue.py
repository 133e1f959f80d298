"""The event catalogue: every event declares its side effects, its projection rule and
its sentence.

Adding an event class without saying what happens when it is raised fails here, not in
production (a silently unprojected or unnamed event).
"""

from __future__ import annotations

from datetime import date

import pytest

from allocation.domain import events
from allocation.service_layer import handlers
from allocation.service_layer.messagebus import PROJECTION
from orders_read.projections import policy

CONCRETE = sorted(
    (cls for cls in events.Event.registry.values() if not cls.__subclasses__()),
    key=lambda cls: cls.__name__,
)

EXAMPLES: dict[type[events.Event], events.Event] = {
    events.BatchCreated: events.BatchCreated("LAMP", 1, "b1", 10, None),
    events.BatchQuantityChanged: events.BatchQuantityChanged("LAMP", 2, "b1", 5),
    events.Allocated: events.Allocated("LAMP", 3, "o1", 2, "b1", arrival=3),
    events.Deallocated: events.Deallocated("LAMP", 4, "o1", 2, "b1"),
    events.OutOfStock: events.OutOfStock("LAMP", 5, "o2", 9, arrival=5),
    events.BackorderCancelled: events.BackorderCancelled("LAMP", 6, "o2", 9),
}


def test_the_catalogue_knows_every_event():
    assert set(CONCRETE) == set(EXAMPLES)


@pytest.mark.parametrize("event_type", CONCRETE, ids=lambda cls: cls.__name__)
def test_every_event_declares_its_side_effects_even_none(event_type):
    assert event_type in handlers.EVENT_HANDLERS


@pytest.mark.parametrize("event_type", CONCRETE, ids=lambda cls: cls.__name__)
def test_every_event_has_a_projection_rule(event_type):
    assert event_type in policy.RULES, f"add a rule for {event_type.__name__} to policy.RULES"


def test_side_effect_names_are_unique_and_never_the_projections():
    names = [name for named in handlers.EVENT_HANDLERS.values() for name in named]
    assert PROJECTION not in names
    assert len(names) == len(set(names))


@pytest.mark.parametrize("event_type", CONCRETE, ids=lambda cls: cls.__name__)
def test_every_event_describes_itself(event_type):
    assert event_type.describe is not events.Event.describe
    sentence = EXAMPLES[event_type].describe()
    assert sentence.strip()
    assert "{" not in sentence


@pytest.mark.parametrize("event_type", CONCRETE, ids=lambda cls: cls.__name__)
def test_every_event_survives_its_journey_as_a_dict(event_type):
    event = EXAMPLES[event_type]
    assert events.Event.from_dict(event.name, event.to_dict()) == event


def test_sentences_in_the_business_words():
    assert [EXAMPLES[cls].describe() for cls in CONCRETE] == [
        "2 x LAMP allocated to batch b1",
        "Waiting 9 x LAMP cancelled",
        "Batch b1 created: 10 units, in the warehouse",
        "Batch b1 changed to 5 units",
        "2 x LAMP taken off batch b1",
        "9 x LAMP waiting for stock",
    ]
    shipment = events.BatchCreated("LAMP", 1, "b2", 10, date(2031, 1, 2))
    assert shipment.describe() == "Batch b2 created: 10 units, eta 2031-01-02"
