import pytest


@pytest.fixture(autouse=True)
def _no_database(request: pytest.FixtureRequest) -> None:
    """Unit tests must never touch a database: they use the fakes."""
    assert "db" not in request.fixturenames
    assert "transactional_db" not in request.fixturenames
