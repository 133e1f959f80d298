from typing import Any

from django.core.management.base import CommandParser

from allocation.domain.commands import ChangeBatchQuantity
from allocation.entrypoints import inputs
from allocation.entrypoints.management.bus_command import BusCommand, argument


class Command(BusCommand):
    help = "Set a batch's purchased quantity; lines that no longer fit are reallocated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ref", type=argument(inputs.identifier))
        parser.add_argument("qty", type=argument(inputs.new_quantity, int))

    def handle(self, *args: Any, **options: Any) -> None:
        self.dispatch(ChangeBatchQuantity(options["ref"], options["qty"]))
        self.stdout.write(f"Batch {options['ref']} now holds {options['qty']}")
