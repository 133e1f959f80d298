import signal
import socket
import threading
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection

from allocation.entrypoints import redis_streams
from allocation.entrypoints.management.operator_command import OperatorCommand
from allocation.entrypoints.redis_consumer import CHANNEL, connection_name, consume, is_listening

STREAM_SILENCE = 60.0
"""How long (s) this host's stream consumer may go without reading before --check fails;
it reads every second, and a retrying one touches its message at least every 30 s."""


class Command(OperatorCommand):
    help = (
        f"Run each command sent on Redis as a ChangeBatchQuantity: the stream"
        f" '{redis_streams.STREAM}' (group '{redis_streams.GROUP}', durable) and the pub/sub"
        f" channel '{CHANNEL}' (the book's clients)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit 0 if this host's consumer is subscribed and reading the stream, else 1"
            " (a healthcheck)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: there is no Redis to listen to")
        if options["check"]:
            self._check()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write(
            f"Reading {redis_streams.STREAM} (stream) and {CHANNEL} (pub/sub) at"
            f" {settings.REDIS_URL} (Ctrl-C stops)"
        )
        subscriber = threading.Thread(
            target=self._subscribe, args=(stop,), name="pubsub", daemon=True
        )
        subscriber.start()
        redis_streams.StreamConsumer(
            settings.REDIS_URL,
            stop,
            claim_idle=settings.STREAM_CLAIM_IDLE,
            max_attempts=settings.STREAM_MAX_ATTEMPTS,
        ).run()
        subscriber.join(timeout=10)

    def _subscribe(self, stop: threading.Event) -> None:
        try:
            consume(settings.REDIS_URL, stop)
        finally:
            connection.close()

    def _check(self) -> None:
        name = connection_name()
        try:
            listening = is_listening(settings.REDIS_URL, name)
            reading = redis_streams.is_reading(
                settings.REDIS_URL, f"{socket.gethostname()}:", STREAM_SILENCE
            )
        except redis.RedisError as error:
            raise CommandError(f"Redis unreachable: {error}") from None
        if not listening:
            raise CommandError(f"{name} is not subscribed to {CHANNEL}")
        if not reading:
            raise CommandError(f"no consumer of this host is reading {redis_streams.STREAM}")
        self.stdout.write(f"{name} is listening on {CHANNEL} and reading {redis_streams.STREAM}")
