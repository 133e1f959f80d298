from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints.actors import of_operator
from allocation.entrypoints.management.operator_command import OperatorCommand
from allocation.models import ProductRecord

SKUS = ["RED-CHAIR", "BLUE-TABLE", "GREEN-LAMP", "OAK-SHELF", "VELVET-SOFA", "STEEL-STOOL"]


class Command(OperatorCommand):
    help = "Load demo batches and orders (through the bus) and an admin/admin superuser."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_DATA_ALLOWED:  # config.production: a known password, and made-up stock
            raise CommandError(
                "load_demo_data refuses to run under production settings (it creates admin/admin);"
                " use createsuperuser"
            )
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser("admin", "admin@localhost", "admin")
            self.stdout.write("Created superuser admin / admin")
        if ProductRecord.objects.exists():
            self.stdout.write("Demo data already loaded")
            return
        bus, operator = bootstrap(), of_operator()
        today = date.today()
        for n, sku in enumerate(SKUS):
            bus.handle(commands.CreateBatch(f"{sku}-WH", sku, 20 + 10 * n), operator)
            eta = today + timedelta(days=7 + n)
            bus.handle(commands.CreateBatch(f"{sku}-SHIP", sku, 50, eta), operator)
        for n in range(1, 41):
            sku = SKUS[n % len(SKUS)]
            bus.handle(commands.Allocate(f"order-{n:03}", sku, 1 + n % 7), operator)
            if n % 5 == 0:
                second = commands.Allocate(f"order-{n:03}", SKUS[(n + 1) % len(SKUS)], 2)
                bus.handle(second, operator)
        bus.handle(commands.Allocate("order-big", "RED-CHAIR", 500), operator)
        self.stdout.write(f"Loaded {len(SKUS)} SKUs, {2 * len(SKUS)} batches and 41 orders")
