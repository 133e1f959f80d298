"""Redis pub/sub entrypoint: ``change_batch_quantity`` messages become commands.

Each message is parsed, validated and handled inside its own error boundary: a bad
message is logged and skipped, and a lost connection is retried with backoff, so one
poison message or a Redis restart never stops the consumer.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import redis
from pydantic import BaseModel, ValidationError

from allocation.bootstrap import bootstrap
from allocation.domain.commands import ChangeBatchQuantity
from allocation.entrypoints import inputs
from allocation.entrypoints.inputs import NewQuantity, Reference
from allocation.service_layer.actor import Actor
from allocation.service_layer.messagebus import MessageBus

logger = logging.getLogger(__name__)

CHANNEL = "change_batch_quantity"
SENDER = Actor.redis(CHANNEL)
"""Who the histories say asked for the change: a message through Redis."""


def connection_name() -> str:
    """The name the consumer's connection takes in Redis (``CLIENT LIST``), one per host:
    operators see who listens, and a container's healthcheck finds its own consumer."""
    return f"consume_events@{socket.gethostname()}"


def is_listening(redis_url: str, name: str) -> bool:
    """Whether a connection called ``name`` is subscribed to a channel right now."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    with client:
        return any(
            entry.get("name") == name and int(entry.get("sub", 0)) > 0
            for entry in client.client_list()
        )


class ChangeBatchQuantityMessage(BaseModel):
    """The book's message: ``{"batchref": str, "qty": int}``, with the API's input rules."""

    batchref: Reference
    qty: NewQuantity


def handle_message(data: bytes | str, bus: MessageBus) -> bool:
    """Run one message; True if it became a command that succeeded."""
    try:
        message = ChangeBatchQuantityMessage.model_validate_json(data)
    except ValidationError as error:
        problem = inputs.describe(error.errors()[0], "message")
        logger.warning("skipping bad %s message %r: %s", CHANNEL, data, problem)
        return False
    try:
        bus.handle(ChangeBatchQuantity(ref=message.batchref, qty=message.qty), SENDER)
    except inputs.CLIENT_ERRORS as error:
        logger.warning("skipping bad %s message %r: %s", CHANNEL, data, error)
        return False
    except Exception:
        logger.exception("failed to handle %s message %r", CHANNEL, data)
        return False
    return True


def consume(
    redis_url: str,
    stop: threading.Event,
    bus_factory: Callable[[], MessageBus] = bootstrap,
    on_ready: Callable[[], Any] | None = None,
) -> None:
    """Subscribe and handle messages until ``stop`` is set, reconnecting as needed."""
    pause = 0.1
    while not stop.is_set():
        try:
            client = redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=2,
                socket_timeout=5,
                client_name=connection_name(),
            )
            with client.pubsub(ignore_subscribe_messages=True) as pubsub:  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                logger.info("listening on %s", CHANNEL)
                pause = 0.1
                if on_ready:
                    on_ready()
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "message":
                        handle_message(message["data"], bus_factory())
        except (redis.ConnectionError, redis.TimeoutError) as error:
            logger.warning("Redis unavailable (%s); reconnecting in %.1fs", error, pause)
            stop.wait(pause)
            pause = min(pause * 2, 5.0)
