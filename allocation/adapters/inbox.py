"""Applies a stream message at most once, in the transaction of the command it became.

Redis Streams deliver at least once: a consumer that dies after its commit but before
its acknowledgement leaves the message pending, and another consumer claims it. Here
the message's position is recorded per key in the same transaction as the command's
change (``StreamPosition``), so a second delivery finds it and does nothing.

The transaction opened here is the one exception to "the Unit of Work owns the
transaction": the command's Unit of Work runs inside it (as a savepoint), so the
position commits, or rolls back, with the command's change, and with nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from allocation.models import StreamPosition


def entry_position(message_id: str) -> tuple[int, int]:
    """A stream entry id ``"<ms>-<seq>"`` as numbers, in the stream's order."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


def apply_once(stream: str, key: str, message_id: str, apply: Callable[[], object]) -> bool:
    """Run ``apply`` unless this message, or a later one of ``stream`` for ``key``, was
    applied; True if it ran. Two consumers racing on one key queue on its row."""
    ms, seq = entry_position(message_id)
    with transaction.atomic():
        position, created = StreamPosition.objects.select_for_update().get_or_create(
            stream=stream, key=key, defaults={"message_ms": ms, "message_seq": seq}
        )
        if not created:
            if (position.message_ms, position.message_seq) >= (ms, seq):
                return False
            position.message_ms, position.message_seq = ms, seq
            position.save(update_fields=["message_ms", "message_seq", "applied_at"])
        apply()
    return True
