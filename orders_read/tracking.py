"""What the read model has applied, per SKU: the read side of delivery tracking.

The write side knows each SKU's last version written; these functions tell the
versions applied, from the tracking records (``AppliedPosition``) and the event log,
which the projection writes in one transaction. ``allocation.service_layer.delivery``
compares the two (this module is its ``ReadLedger``, wired by ``allocation.bootstrap``)
to find events written but not applied, wherever the read model lives.
"""

from __future__ import annotations

from orders_read.models import AppliedPosition, EventLog
from orders_read.sql import read_db


def applied_positions() -> dict[str, int]:
    """Per SKU, the version up to which every event is applied (one row per SKU)."""
    return dict(AppliedPosition.objects.using(read_db()).values_list("sku", "version"))


def applied_between(sku: str, after: int, upto: int) -> set[int]:
    """The versions in ``(after, upto]`` applied out of order, beyond the position."""
    logged = EventLog.objects.using(read_db()).filter(sku=sku, version__gt=after, version__lte=upto)
    return set(logged.values_list("version", flat=True))
