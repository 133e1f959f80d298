"""Unit tests run without a database: the bus is bootstrapped with fakes that record."""

import pytest

from allocation.bootstrap import bootstrap
from allocation.service_layer.messagebus import MessageBus
from tests.fakes import FakeUnitOfWork
from tests.unit.outside import Outside


@pytest.fixture(autouse=True)
def _no_database(request: pytest.FixtureRequest) -> None:
    """Unit tests must never touch a database: they use the fakes."""
    assert "db" not in request.fixturenames
    assert "transactional_db" not in request.fixturenames


@pytest.fixture
def fake_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def outside() -> Outside:
    return Outside()


@pytest.fixture
def bus_with_fakes(fake_uow: FakeUnitOfWork, outside: Outside) -> MessageBus:
    """The real bus and handlers, over the fake Unit of Work and the recording outside."""
    return bootstrap(
        uow=fake_uow,
        publish=outside.publish,
        append=outside.append,
        notify=outside.notify,
        project=outside.project,
    )
