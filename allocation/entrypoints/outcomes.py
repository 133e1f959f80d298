"""What a change did, or would do, in the pages' words: where a line is and when it
ships, and the success message that names what moved (``allocation.domain.changes``
computes the moves; the previews' tables show them through ``templatetags.outcomes``).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.formats import date_format

from allocation.domain.changes import Cancellation, LineMove, QuantityChange, Spot

LISTED = 5
"""Lines a message names in each group; the rest are counted."""


def place(spot: Spot) -> str:
    """``B2 (ETA May 1, 2031)``, ``B1 (warehouse)`` or ``waiting for stock``."""
    if spot.batchref is None:
        return "waiting for stock"
    return f"{spot.batchref} ({f'ETA {date_format(spot.eta)}' if spot.eta else 'warehouse'})"


def ships(spot: Spot) -> str:
    """When a line in this place ships: ``now``, on its batch's ETA, or when stock arrives."""
    if spot.batchref is None:
        return "when stock arrives"
    return date_format(spot.eta) if spot.eta else "now"


def quantity_changed(change: QuantityChange) -> str:
    """``Batch B1 now holds 2 units. 1 line moved: o1 → B2 (ETA May 1, 2031).``"""
    if not change.changed:
        return f"Batch {change.ref} already held {change.after} units: nothing changed."
    said = [f"Batch {change.ref} now holds {change.after} units."]
    said += _group(change.moved, "line moved", "lines moved")
    said += _group(change.now_waiting, "line waits for stock", "lines wait for stock", to=False)
    said += _group(change.from_waiting, "waiting line allocated", "waiting lines allocated")
    if not change.moves:
        said.append("No line moved.")
    return " ".join(said)


def line_cancelled(cancelled: Cancellation) -> str:
    """``The 5 x LAMP line of order o1 was cancelled. Its units went to 1 waiting line: …``"""
    line = cancelled.line
    said = [f"The {line.qty} x {line.sku} line of order {line.orderid} was cancelled."]
    said += _group(cancelled.moves, "waiting line took its units", "waiting lines took its units")
    return " ".join(said)


def _group(moves: Sequence[LineMove], one: str, many: str, to: bool = True) -> list[str]:
    """``2 lines moved: o1 → B2 (warehouse), o2 → B2 (warehouse).``, or nothing."""
    if not moves:
        return []
    named = [f"{m.orderid} → {place(m.after)}" if to else m.orderid for m in moves[:LISTED]]
    more = f" and {len(moves) - LISTED} more" if len(moves) > LISTED else ""
    return [f"{len(moves)} {one if len(moves) == 1 else many}: {', '.join(named)}{more}."]
