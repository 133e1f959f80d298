from typing import Any

from django.core.management.base import CommandParser

from allocation.domain.commands import Allocate
from allocation.entrypoints import inputs
from allocation.entrypoints.management.bus_command import BusCommand, argument


class Command(BusCommand):
    help = "Allocate an order line to the preferred batch (it waits if none can take it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("orderid", type=argument(inputs.order_id))
        parser.add_argument("sku", type=argument(inputs.identifier))
        parser.add_argument("qty", type=argument(inputs.quantity, int))

    def handle(self, *args: Any, **options: Any) -> None:
        batchref = self.dispatch(Allocate(options["orderid"], options["sku"], options["qty"]))
        if batchref:
            self.stdout.write(f"Allocated to {batchref}")
        else:
            self.stdout.write("Out of stock: the line waits for stock")
