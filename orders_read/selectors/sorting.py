"""How the lists sort: the columns each offers, by key, and their tie-breakers.

A key names a column (``"available"``); ``"-available"`` is the same column the other
way. Rows without a value (a SKU with no shipment coming) come last either way, and
ties keep a stable order, so paging through a sorted list never shows a row twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db.models import Expression, F, OrderBy


@dataclass(frozen=True)
class Sorts:
    columns: Mapping[str, Expression | F]
    """Each key's column (or expression, ascending)."""
    then: Sequence[OrderBy]
    """The tie-breakers, whatever the column."""
    default: str

    def keys(self) -> list[str]:
        """Every key a list accepts, both ways."""
        return [f"{way}{key}" for key in self.columns for way in ("", "-")]

    def order_by(self, key: str) -> list[OrderBy]:
        """The ordering for ``key``; the default for a key the list does not offer."""
        if key not in self.keys():
            key = self.default
        column = self.columns[key.removeprefix("-")]
        first = column.desc(nulls_last=True) if key.startswith("-") else column.asc(nulls_last=True)
        return [first, *self.then]
