"""``relay_outbox``: hand the outbox's events to the workers, once or following it."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import CommandError, CommandParser

from allocation import bootstrap
from allocation.adapters import metrics, outbox
from allocation.entrypoints.management.operator_command import OperatorCommand
from allocation.entrypoints.relay import follow


class Command(OperatorCommand):
    help = (
        "Send the outbox's unsent events to the workers and resend those written but not"
        " applied; --follow keeps doing it, woken by each commit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--follow", action="store_true", help="run until stopped (SIGTERM or Ctrl-C)"
        )
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=0,
            help="with --follow: serve Prometheus metrics on this port (0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["follow"]:
            self._follow(options["metrics_port"])
            return
        sent = bootstrap.deliver_pending()
        lag = bootstrap.read_model_lag()
        self.stdout.write(f"Sent {sent} event(s); {lag.unapplied} not applied yet")
        unsent = outbox.unsent_count()
        if unsent:
            raise CommandError(f"{unsent} event(s) still unsent: is the broker reachable?")

    def _follow(self, metrics_port: int) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if metrics_port:
            metrics.serve(metrics_port)
        follow(
            stop,
            outbox.send_events_to_workers,
            on_ready=self._following,
            on_batch=metrics.RELAYED.observe,
        )
        self.stdout.write("relay: stopped")

    def _following(self) -> None:
        """Said each time it (re)connects and listens; flushed, for whoever watches."""
        self.stdout.write("relay: following the outbox")
        self.stdout.flush()
