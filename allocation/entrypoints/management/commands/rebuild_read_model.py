import sys
from typing import Any

from django.core.management.base import BaseCommand

from allocation.bootstrap import rebuild_read_model


class Command(BaseCommand):
    help = "Rebuild every orders_read table from the write side (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(done: int, total: int) -> None:
            if done == total or done % 100 == 0:
                width = 30
                filled = width * done // total
                bar = "#" * filled + "-" * (width - filled)
                sys.stderr.write(f"\rorders [{bar}] {done}/{total}")
                if done == total:
                    sys.stderr.write("\n")

        orders = rebuild_read_model(progress)
        self.stdout.write(f"Rebuilt the read model: {orders} order(s)")
