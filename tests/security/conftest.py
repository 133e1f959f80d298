"""The probes' fixtures: ``production`` settings and a client behind the TLS proxy
(``tests/security/production.py`` says how)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.security.production import apply_production, through_proxy


@pytest.fixture
def production(settings: Any) -> Any:
    return apply_production(settings)


@pytest.fixture
def production_client(production: Any) -> Client:
    return through_proxy("81.2.69.142")
