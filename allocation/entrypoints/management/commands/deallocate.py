from typing import Any

from django.core.management.base import CommandParser

from allocation.domain.commands import Deallocate
from allocation.entrypoints import inputs
from allocation.entrypoints.management.bus_command import BusCommand, argument


class Command(BusCommand):
    help = "Cancel an order's line for a SKU, allocated or waiting."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("orderid", type=argument(inputs.order_id))
        parser.add_argument("sku", type=argument(inputs.identifier))

    def handle(self, *args: Any, **options: Any) -> None:
        self.dispatch(Deallocate(options["orderid"], options["sku"]))
        self.stdout.write(f"Deallocated {options['orderid']} {options['sku']}")
