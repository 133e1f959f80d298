"""The durable integration: the ``change_batch_quantity`` Redis Stream becomes commands.

The contract (README, "Redis Streams"): entries with the fields ``batchref`` and ``qty``
(a decimal string), read by the consumer group ``allocation``; what cannot be applied
goes to ``change_batch_quantity:dead`` with the original fields plus ``error``.

Unlike pub/sub, nothing is lost on the way:

- a message is acknowledged only after its command committed (or it was dead-lettered);
- a transient failure (database or Redis unavailable, a version race lost too often) is
  retried with backoff for as long as it lasts, never dropped;
- bad input goes to the dead letters at once, so it never blocks the messages behind
  it; an unexpected failure goes there at its ``STREAM_MAX_ATTEMPTS``-th attempt, and so
  does a message delivered that many times to consumers that died with it;
- a dead consumer's pending messages are claimed (``XAUTOCLAIM``) by another once idle
  for ``STREAM_CLAIM_IDLE`` seconds; a consumer retrying a message keeps it fresh, so a
  live one is not robbed;
- a message is applied once per batch even when two consumers race
  (``allocation.adapters.inbox``).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from django.db import InterfaceError, OperationalError, close_old_connections
from pydantic import ValidationError

from allocation.adapters import inbox
from allocation.bootstrap import bootstrap
from allocation.domain.commands import ChangeBatchQuantity
from allocation.entrypoints import inputs
from allocation.entrypoints.redis_consumer import ChangeBatchQuantityMessage
from allocation.service_layer.actor import Actor
from allocation.service_layer.messagebus import MessageBus, TooMuchContention

logger = logging.getLogger(__name__)

STREAM = "change_batch_quantity"
GROUP = "allocation"
DEAD_LETTERS = f"{STREAM}:dead"
FIELDS = ("batchref", "qty")
SENDER = Actor.redis(STREAM)
"""Who the histories say asked for the change: a message through Redis."""

TRANSIENT = (OperationalError, InterfaceError, TooMuchContention)
"""A command's failures that pass by themselves: retried for as long as they last. (Redis
failing is the consumer's own: it reconnects, and reads again what it did not ack.)"""

READ_COUNT = 10
BLOCK_MS = 1000
MAX_PAUSE = 30.0
IDLE_CONSUMER_KEPT = 24 * 3600.0
"""A consumer with nothing pending and silent this long (s) is forgotten by the group."""

DECIMAL = re.compile(r"-?[0-9]{1,20}")


def consumer_name() -> str:
    """Unique per process, so that a dead process's pending messages can be claimed;
    the host comes first so a healthcheck finds its own consumers."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Outcome(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already applied"
    BAD = "bad input"
    TRANSIENT = "transient failure"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: str = ""


def parse(fields: Mapping[bytes, bytes]) -> ChangeBatchQuantity:
    """The entry's command, or ``inputs.BadInput`` saying what is wrong with it."""
    try:
        values = {key.decode(): value.decode() for key, value in fields.items()}
    except UnicodeDecodeError:
        raise inputs.BadInput("The message is not valid UTF-8") from None
    for name in FIELDS:
        if name not in values:
            raise inputs.BadInput(f"Missing field '{name}'")
    qty: object = values["qty"]
    if isinstance(qty, str) and DECIMAL.fullmatch(qty):
        qty = int(qty)
    try:
        message = ChangeBatchQuantityMessage.model_validate(
            {"batchref": values["batchref"], "qty": qty}
        )
    except ValidationError as error:
        problem = inputs.describe(error.errors()[0], "message")
        if problem.endswith("must be an integer"):
            problem = f"Field 'qty' must be a decimal integer, got {brief(values['qty'])}"
        raise inputs.BadInput(problem) from None
    return ChangeBatchQuantity(ref=message.batchref, qty=message.qty)


def apply(message_id: str, fields: Mapping[bytes, bytes], bus: MessageBus) -> Result:
    """One attempt at one entry, inside its own error boundary."""
    try:
        command = parse(fields)
    except inputs.BadInput as error:
        return Result(Outcome.BAD, str(error))
    close_old_connections()  # one broken by an earlier failure is replaced
    try:
        ran = inbox.apply_once(STREAM, command.ref, message_id, lambda: bus.handle(command, SENDER))
    except TRANSIENT as error:
        return Result(Outcome.TRANSIENT, f"{type(error).__name__}: {error}")
    except inputs.CLIENT_ERRORS as error:
        return Result(Outcome.BAD, str(error))
    except Exception as error:
        logger.exception("%s %s failed", STREAM, message_id)
        return Result(Outcome.FAILED, f"{type(error).__name__}: {error}")
    return Result(Outcome.APPLIED if ran else Outcome.ALREADY_APPLIED)


def brief(value: object, limit: int = 200) -> str:
    """A value for a log line: a 1 MB message must not become a 1 MB line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def ensure_group(client: redis.Redis) -> None:
    """The group, from the stream's first entry: commands sent before it existed count."""
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def dead_letter(
    client: redis.Redis, message_id: str, fields: Mapping[bytes, bytes], error: str
) -> None:
    """Move the entry to the dead letters and acknowledge it, both or neither."""
    entry: dict[Any, Any] = {**fields, b"error": error}
    pipeline = client.pipeline(transaction=True)
    pipeline.xadd(DEAD_LETTERS, entry)
    pipeline.xack(STREAM, GROUP, message_id)
    pipeline.execute()
    logger.warning("%s %s dead-lettered: %s", STREAM, message_id, error)


class StreamConsumer:
    """One member of the group ``allocation``; ``run`` reads until ``stop`` is set."""

    def __init__(
        self,
        redis_url: str,
        stop: threading.Event,
        *,
        claim_idle: float,
        max_attempts: int,
        bus_factory: Callable[[], MessageBus] = bootstrap,
        name: str | None = None,
        on_ready: Callable[[], Any] | None = None,
    ) -> None:
        self.client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=2, socket_timeout=BLOCK_MS / 1000 + 5
        )
        self.stop = stop
        self.claim_idle_ms = int(claim_idle * 1000)
        self.max_attempts = max_attempts
        self.bus_factory = bus_factory
        self.name = name or consumer_name()
        self.on_ready = on_ready
        self._next_claim = 0.0

    def run(self) -> None:
        pause = 0.1
        while not self.stop.is_set():
            try:
                ensure_group(self.client)
                self._handle_own_pending()
                logger.info("reading stream %s as %s of group %s", STREAM, self.name, GROUP)
                pause = 0.1
                if self.on_ready:
                    self.on_ready()
                while not self.stop.is_set():
                    self.step()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                logger.warning("Redis unavailable (%s); reconnecting in %.1fs", error, pause)
                self.stop.wait(pause)
                pause = min(pause * 2, 5.0)
            except redis.ResponseError as error:  # NOGROUP: Redis lost its data
                logger.warning("stream %s: %s; creating the group again", STREAM, error)
                self.stop.wait(pause)
                pause = min(pause * 2, 5.0)
        self.client.close()

    def step(self) -> None:
        """Claim what dead consumers left (now and then), then read new entries."""
        if time.monotonic() >= self._next_claim:
            self.claim()
            self._next_claim = time.monotonic() + max(self.claim_idle_ms / 2000, 0.5)
        for message_id, fields in self._read(">", count=READ_COUNT, block=BLOCK_MS):
            if fields is not None:
                self.handle(message_id, fields)

    def claim(self) -> None:
        """Take over the entries other consumers have held, unacknowledged, too long."""
        start = "0-0"
        while not self.stop.is_set():
            response: Any = self.client.xautoclaim(
                STREAM, GROUP, self.name, self.claim_idle_ms, start, count=READ_COUNT
            )
            start_id, entries = response[0], response[1]
            for message_id, fields in entries:
                message_id = message_id.decode()
                logger.warning("%s %s claimed from a silent consumer", STREAM, message_id)
                if fields is None:  # trimmed from the stream meanwhile
                    self.client.xack(STREAM, GROUP, message_id)
                    continue
                self.handle(message_id, fields, self._deliveries(message_id) - 1)
            start = start_id.decode()
            if start == "0-0":
                break
        self._forget_idle_consumers()

    def handle(self, message_id: str, fields: Mapping[bytes, bytes], earlier: int = 0) -> None:
        """Apply one entry until it is applied or dead-lettered (or the consumer stops).

        ``earlier``: deliveries to consumers that died with it (a message that kills its
        consumer must not kill them all), each counted as a failed attempt.
        """
        attempts = earlier
        error = f"delivered {earlier} times to consumers that died with it"
        pause = 0.1
        while attempts < self.max_attempts:
            result = apply(message_id, fields, self.bus_factory())
            if result.outcome in (Outcome.APPLIED, Outcome.ALREADY_APPLIED):
                self.client.xack(STREAM, GROUP, message_id)
                logger.info("%s %s %s", STREAM, message_id, result.outcome.value)
                return
            if result.outcome is Outcome.BAD:
                dead_letter(self.client, message_id, fields, result.error)
                return
            if result.outcome is Outcome.FAILED:
                attempts += 1
                error = f"failed {attempts} times; last: {result.error}"
                if attempts >= self.max_attempts:
                    break
            logger.warning(
                "%s %s: %s (%s); retrying in %.1fs",
                STREAM, message_id, result.outcome.value, result.error, pause,
            )  # fmt: skip
            if self.stop.wait(pause):
                return  # left pending: claimed by another consumer, or by this one's successor
            pause = min(pause * 2, MAX_PAUSE)
            self._keep(message_id)
        dead_letter(self.client, message_id, fields, error)

    def _keep(self, message_id: str) -> None:
        """Reset the entry's idle time, so no other consumer claims one still being tried."""
        self.client.xclaim(STREAM, GROUP, self.name, 0, [message_id], justid=True)

    def _handle_own_pending(self) -> None:
        """Entries this consumer read but did not acknowledge before Redis went away."""
        for message_id, fields in self._read("0", count=1000):
            if fields is not None:
                self.handle(message_id, fields, self._deliveries(message_id) - 1)
            else:  # trimmed from the stream meanwhile
                self.client.xack(STREAM, GROUP, message_id)

    def _read(
        self, last_id: str, count: int, block: int | None = None
    ) -> list[tuple[str, dict[bytes, bytes] | None]]:
        """This consumer's entries after ``last_id`` (">": never delivered; "0": its own
        pending ones, ``None`` for an entry trimmed since)."""
        response: Any = self.client.xreadgroup(
            GROUP, self.name, {STREAM: last_id}, count=count, block=block
        )
        return [
            (message_id.decode(), fields or None)
            for _, entries in response or []
            for message_id, fields in entries
        ]

    def _deliveries(self, message_id: str) -> int:
        pending: Any = self.client.xpending_range(
            STREAM, GROUP, min=message_id, max=message_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    def _forget_idle_consumers(self) -> None:
        consumers: Any = self.client.xinfo_consumers(STREAM, GROUP)
        for consumer in consumers:
            if consumer["pending"] == 0 and consumer["idle"] > IDLE_CONSUMER_KEPT * 1000:
                self.client.xgroup_delconsumer(STREAM, GROUP, consumer["name"])


def is_reading(redis_url: str, prefix: str, silence: float) -> bool:
    """Whether a consumer whose name starts with ``prefix`` read within ``silence`` s."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    with client:
        try:
            consumers: Any = client.xinfo_consumers(STREAM, GROUP)
        except redis.ResponseError:  # no stream or no group yet
            return False
    return any(
        consumer["name"].decode().startswith(prefix) and consumer["idle"] <= silence * 1000
        for consumer in consumers
    )


# -- the dead letters, for the operators' commands ------------------------------------------

ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")

DeadLetter = tuple[str, dict[str, str]]


def entry_id(value: object) -> str:
    """A stream entry id as Redis writes it, ``<ms>-<seq>``."""
    if not isinstance(value, str) or not ENTRY_ID.fullmatch(value):
        raise inputs.BadInput(f"must be a stream entry id <ms>-<seq>, got {brief(value, 40)}")
    return value


def dead_letters(client: redis.Redis, count: int) -> list[DeadLetter]:
    """The oldest ``count`` dead letters, their fields as text (undecodable bytes escaped)."""
    entries: Any = client.xrange(DEAD_LETTERS, count=count)
    return [(message_id.decode(), _text(fields)) for message_id, fields in entries]


def replay(client: redis.Redis, ids: list[str] | None) -> list[tuple[str, str]]:
    """Send dead letters (``None``: all of them) back to the stream, without their
    ``error``, and delete them; each one as a new entry, so it is applied now. Pairs of
    (dead letter, new entry). Refuses, changing nothing, if an id is not a dead letter."""
    found: dict[str, dict[bytes, bytes]] = {}
    if ids is None:
        everything: Any = client.xrange(DEAD_LETTERS)
        found = {message_id.decode(): fields for message_id, fields in everything}
    else:
        for message_id in ids:
            entry: Any = client.xrange(DEAD_LETTERS, message_id, message_id)
            if not entry:
                raise LookupError(f"no dead letter {message_id} in {DEAD_LETTERS}")
            found[message_id] = entry[0][1]
    replayed = []
    for message_id, fields in found.items():
        original: dict[Any, Any] = {k: v for k, v in fields.items() if k != b"error"}
        pipeline = client.pipeline(transaction=True)
        pipeline.xadd(STREAM, original)
        pipeline.xdel(DEAD_LETTERS, message_id)
        new_id, _ = pipeline.execute()
        replayed.append((message_id, new_id.decode()))
    return replayed


def _text(fields: Mapping[bytes, bytes]) -> dict[str, str]:
    return {
        key.decode(errors="backslashreplace"): value.decode(errors="backslashreplace")
        for key, value in fields.items()
    }
