"""The Redis consumer applies the API's input rules, and skips a bad message with one line."""

import logging
from typing import cast

import pytest

from allocation.domain.commands import ChangeBatchQuantity
from allocation.domain.model import UnknownBatch
from allocation.entrypoints import redis_consumer
from allocation.service_layer.actor import Actor
from allocation.service_layer.messagebus import MessageBus


class Bus:
    """Records the commands it is sent, and for whom; fails each with ``error`` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.handled: list[object] = []
        self.actors: list[Actor] = []

    def handle(self, command: object, actor: Actor) -> None:
        if self.error is not None:
            raise self.error
        self.handled.append(command)
        self.actors.append(actor)


def handle_message(data: bytes, bus: Bus) -> bool:
    return redis_consumer.handle_message(data, cast(MessageBus, bus))


def test_a_message_becomes_change_batch_quantity():
    bus = Bus()
    assert handle_message(b'{"batchref": "b1", "qty": 0, "extra": true}', bus)
    assert bus.handled == [ChangeBatchQuantity("b1", 0)]
    assert bus.actors == [Actor.redis("change_batch_quantity")]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "The message is not valid JSON"),
        (b"\xff\xfe", "The message is not valid JSON"),
        (b"[1, 2]", "The message must be a JSON object"),
        (b'{"qty": 1}', "Missing field 'batchref'"),
        (b'{"batchref": 7, "qty": 1}', "Field 'batchref' must be a non-empty string"),
        (b'{"batchref": " b1", "qty": 1}', "Field 'batchref' must have no outer spaces"),
        (b'{"batchref": "b1", "qty": "3"}', "Field 'qty' must be an integer"),
        (b'{"batchref": "b1", "qty": true}', "Field 'qty' must be an integer"),
        (b'{"batchref": "b1", "qty": -1}', "Field 'qty' must be greater than or equal to 0"),
        (b'{"batchref": "b1", "qty": 2147483648}', "must be less than or equal to 2147483647"),
    ],
)
def test_a_bad_message_is_skipped_with_the_rules_words(caplog, data, problem):
    bus = Bus()
    with caplog.at_level(logging.WARNING):
        assert not handle_message(data, bus)
    assert bus.handled == []
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith(problem)


def test_a_command_the_bus_refuses_is_skipped(caplog):
    bus = Bus(UnknownBatch("Invalid batch ref nope"))
    with caplog.at_level(logging.WARNING):
        assert not handle_message(b'{"batchref": "nope", "qty": 1}', bus)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith("Invalid batch ref nope")


def test_an_unexpected_failure_is_logged_with_its_traceback(caplog):
    bus = Bus(RuntimeError("the disk is on fire"))
    assert not handle_message(b'{"batchref": "b1", "qty": 1}', bus)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info
