import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from allocation.entrypoints.redis_consumer import CHANNEL, consume


class Command(BaseCommand):
    help = f"Subscribe to Redis '{CHANNEL}' and run each message as a command."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: there is no Redis to listen to")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write(f"Listening on {CHANNEL} at {settings.REDIS_URL} (Ctrl-C stops)")
        consume(settings.REDIS_URL, stop, on_ready=lambda: self.stdout.flush())
