from typing import Any

from django.core.management.base import CommandParser

from allocation.domain.commands import CreateBatch
from allocation.entrypoints import inputs
from allocation.entrypoints.management.bus_command import BusCommand, argument


class Command(BusCommand):
    help = "Add a batch of stock (in the warehouse, or arriving on --eta)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ref", type=argument(inputs.identifier))
        parser.add_argument("sku", type=argument(inputs.identifier))
        parser.add_argument("qty", type=argument(inputs.quantity, int))
        parser.add_argument(
            "--eta", type=argument(inputs.iso_date), help="YYYY-MM-DD; none: in the warehouse"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.dispatch(CreateBatch(options["ref"], options["sku"], options["qty"], options["eta"]))
        self.stdout.write(f"Added batch {options['ref']}")
