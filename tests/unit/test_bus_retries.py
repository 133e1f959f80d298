"""A command that lost a version race is retried, a bounded number of times, with capped jitter."""

from collections.abc import Callable
from typing import Any

import pytest

from allocation.domain import commands
from allocation.domain.model import LineConflict
from allocation.service_layer.messagebus import MessageBus, TooMuchContention, jittered_backoff
from allocation.service_layer.unit_of_work import ConcurrencyError
from tests.fakes import FakeUnitOfWork


class Flaky:
    """A command handler that loses the optimistic-locking race ``failures`` times."""

    def __init__(self, failures: int, result: str = "b1") -> None:
        self.failures = failures
        self.result = result
        self.calls = 0

    def __call__(self, command: commands.Command) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConcurrencyError("version changed")
        return self.result


def bus_with(
    handler: Callable[[commands.Command], Any],
    max_attempts: int = 5,
    backoff: Callable[[int], float] = lambda n: 0,
) -> MessageBus:
    return MessageBus(
        {commands.Allocate: handler},
        {},
        projection=lambda batch: None,
        uow=FakeUnitOfWork(),
        max_attempts=max_attempts,
        backoff=backoff,
    )


def test_the_bus_retries_a_command_that_lost_a_race():
    handler = Flaky(failures=2)
    assert bus_with(handler).handle(commands.Allocate("o1", "LAMP", 1)) == "b1"
    assert handler.calls == 3


def test_the_bus_succeeds_on_the_last_allowed_attempt():
    handler = Flaky(failures=4)
    assert bus_with(handler, max_attempts=5).handle(commands.Allocate("o1", "LAMP", 1)) == "b1"
    assert handler.calls == 5


def test_the_bus_gives_up_after_max_attempts():
    handler = Flaky(failures=100)
    waits = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0

    bus = bus_with(handler, max_attempts=4, backoff=backoff)
    with pytest.raises(TooMuchContention, match="Allocate lost 4 races"):
        bus.handle(commands.Allocate("o1", "LAMP", 1))
    assert handler.calls == 4
    assert waits == [1, 2, 3]  # no wait after the last attempt


def test_the_bus_does_not_retry_other_errors():
    calls = []

    def handler(command: commands.Command) -> None:
        calls.append(command)
        raise LineConflict("no")

    with pytest.raises(LineConflict):
        bus_with(handler).handle(commands.Allocate("o1", "LAMP", 1))
    assert len(calls) == 1


def test_jittered_backoff_grows_from_small_but_stays_capped():
    waits = {attempt: [jittered_backoff(attempt) for _ in range(50)] for attempt in range(1, 40)}
    for attempt, samples in waits.items():
        assert all(0 <= w <= 0.005 * 2**attempt for w in samples)
        assert all(w <= 1.0 for w in samples)  # a capped wait, whatever the attempt
    assert len(set(waits[10])) > 1  # jitter: competing writers do not wait alike
