from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from allocation.adapters import outbox
from allocation.tasks import send_event_to_workers


class Command(BaseCommand):
    help = "Send every outbox event the after-commit path did not (broker down, crash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age", type=float, default=0.0, help="only events older than this (seconds)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sent = outbox.relay(send_event_to_workers, timedelta(seconds=options["min_age"]))
        self.stdout.write(f"Sent {sent} event(s)")
        left = outbox.unsent_count()
        if left:
            raise CommandError(f"{left} event(s) still unsent: is the broker reachable?")
