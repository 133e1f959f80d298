"""The outside world as the unit tests' bus sees it: what was published, notified, projected."""

from collections.abc import Sequence
from typing import Any

from allocation.domain import events


class Outside:
    """Records what the bus sent to the outside world."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.appended: list[tuple[str, dict[str, str | int]]] = []
        self.notified: list[tuple[str, str]] = []
        self.projected: list[events.Event] = []
        self.batches: list[list[events.Event]] = []
        self.poison: set[events.Event] = set()

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.published.append((channel, message))

    def append(self, stream: str, fields: dict[str, str | int]) -> None:
        self.appended.append((stream, fields))

    def notify(self, subject: str, body: str) -> None:
        self.notified.append((subject, body))

    def project(self, batch: Sequence[events.Event]) -> None:
        """All or nothing, like the projection's transaction."""
        if self.poison & set(batch):
            raise RuntimeError("cannot project this one")
        self.batches.append(list(batch))
        self.projected.extend(batch)
