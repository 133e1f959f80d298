import signal
import threading
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from allocation.entrypoints.management.operator_command import OperatorCommand
from allocation.entrypoints.redis_consumer import CHANNEL, connection_name, consume, is_listening


class Command(OperatorCommand):
    help = f"Subscribe to Redis '{CHANNEL}' and run each message as a command."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="exit 0 if this host's consumer is subscribed, else 1 (a healthcheck)",
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
        self.stdout.write(f"Listening on {CHANNEL} at {settings.REDIS_URL} (Ctrl-C stops)")
        consume(settings.REDIS_URL, stop, on_ready=lambda: self.stdout.flush())

    def _check(self) -> None:
        name = connection_name()
        try:
            listening = is_listening(settings.REDIS_URL, name)
        except redis.RedisError as error:
            raise CommandError(f"Redis unreachable: {error}") from None
        if not listening:
            raise CommandError(f"{name} is not subscribed to {CHANNEL}")
        self.stdout.write(f"{name} is listening on {CHANNEL}")
