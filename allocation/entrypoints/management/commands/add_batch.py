from typing import Any

from django.core.management.base import CommandParser

from allocation.domain.commands import CreateBatch
from allocation.entrypoints.management.bus_command import BusCommand, iso_date, positive_int, text


class Command(BusCommand):
    help = "Add a batch of stock (in the warehouse, or arriving on --eta)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ref", type=text)
        parser.add_argument("sku", type=text)
        parser.add_argument("qty", type=positive_int)
        parser.add_argument("--eta", type=iso_date, default=None, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        self.dispatch(CreateBatch(options["ref"], options["sku"], options["qty"], options["eta"]))
        self.stdout.write(f"Added batch {options['ref']}")
