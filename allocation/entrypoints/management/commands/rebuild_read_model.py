from typing import Any

from allocation.bootstrap import rebuild_read_model
from allocation.entrypoints.management.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = "Rebuild every orders_read table from the write side (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        # The bar redraws one line with "\r": only a person at a terminal wants it; a
        # log or a pipe would get every frame. -v 0 (cron, scripts) prints nothing at all.
        quiet = options["verbosity"] == 0
        bar = None if quiet or not self.stderr.isatty() else self._progress
        orders = rebuild_read_model(bar)
        if not quiet:
            self.stdout.write(f"Rebuilt the read model: {orders} order(s)")

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            width = 30
            filled = width * done // total
            bar = "#" * filled + "-" * (width - filled)
            # Plain, not in stderr's error style: progress is no error.
            end = "\n" if done == total else ""
            self.stderr.write(f"\rorders [{bar}] {done}/{total}", style_func=str, ending=end)
