"""Who asked for a change: metadata beside a command's events, never part of them.

The domain knows nothing of people: a command says what is asked, its events what
happened. Who asked is said by the entrypoint that took the command in (a user of the
site, the admin or the API, an operator at the command line, a Redis message) and
handed to the bus with it (``MessageBus.handle(command, actor)``). The Unit of Work
writes it into the outbox row of every event the command raised, and it travels
beside the event, as the time it was stored does, to the read model's histories.

Every event of one command has that command's actor, so lines that a batch's change
moved, or that stock arriving allocated, are attributed to whoever changed the stock.
``SYSTEM`` is for what no one asked for; it is also what the bus assumes when it is
not told, which only tests and in-process helpers rely on: every entrypoint says who.

Stored as one short text, ``kind:name`` (``user:alice``, ``cli:bob``, ``system``), so
the outbox and the read model keep it in one column, and a history reads it back with
``Actor.parse``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_NAME = 150
"""Django's longest user name: a name longer than any user's is not a person's."""


class Kind(enum.StrEnum):
    USER = "user"  # a user of the site, the admin or the JSON API
    COMMAND_LINE = "cli"  # an operator running a management command
    API_CLIENT = "api"  # a JSON API caller with no user (the API is open in development)
    REDIS = "redis"  # a message another system sent through Redis
    SYSTEM = "system"  # nobody: the system on its own


@dataclass(frozen=True)
class Actor:
    kind: Kind
    name: str = ""
    """The user's or the operator's name, or the Redis channel; empty if unknown."""

    def __post_init__(self) -> None:
        if len(self.name) > MAX_NAME:
            raise ValueError(f"an actor's name must be at most {MAX_NAME} characters")

    @classmethod
    def user(cls, username: str) -> Actor:
        return cls(Kind.USER, username)

    @classmethod
    def command_line(cls, operator: str = "") -> Actor:
        return cls(Kind.COMMAND_LINE, operator)

    @classmethod
    def redis(cls, channel: str) -> Actor:
        return cls(Kind.REDIS, channel)

    def __str__(self) -> str:
        """The stored text: ``kind:name``, or the kind alone without a name."""
        return f"{self.kind}:{self.name}" if self.name else str(self.kind)

    @classmethod
    def parse(cls, text: str) -> Actor:
        """The actor of a stored text; ``ValueError`` for one this release cannot read."""
        kind, _, name = text.partition(":")
        return cls(Kind(kind), name)

    def describe(self, names: bool) -> str:
        """The actor in a history's words ("by alice"); ``names``: may the reader see
        people's names? (The entrypoints decide who may.) The others read "by a user".
        Redis's channel is a code name, not a person, and is never shown.
        """
        if self.kind is Kind.USER:
            return f"by {self.name}" if names and self.name else "by a user"
        if self.kind is Kind.COMMAND_LINE:
            who = f"{self.name} on " if names and self.name else ""
            return f"by {who}the command line"
        return {
            Kind.API_CLIENT: "by an API client",
            Kind.REDIS: "by Redis",
            Kind.SYSTEM: "by the system",
        }[self.kind]


SYSTEM = Actor(Kind.SYSTEM)
API_CLIENT = Actor(Kind.API_CLIENT)
