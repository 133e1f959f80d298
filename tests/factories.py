"""factory-boy factories for raw rows: setup for repository tests and read-model pages.

Write-side rows made here bypass the aggregate on purpose (to set up a stored state);
application code never does that.
"""

from __future__ import annotations

import factory

from allocation.models import BatchRecord, OrderLineRecord, ProductRecord
from orders_read.models import BatchView, OrderLineView, OrderView, SkuStock
from orders_read.rules import LineStatus, OrderStatus


class ProductRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductRecord

    sku = factory.Sequence(lambda n: f"SKU-{n:04}")
    version_number = 1


class BatchRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BatchRecord

    reference = factory.Sequence(lambda n: f"batch-{n:04}")
    product = factory.SubFactory(ProductRecordFactory)
    purchased_quantity = 100
    allocated_quantity = 0
    eta = None


class OrderLineRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLineRecord

    orderid = factory.Sequence(lambda n: f"order-{n:05}")
    product = factory.SubFactory(ProductRecordFactory)
    qty = 1
    batch = None
    arrival = factory.Sequence(lambda n: n + 1)
    sequence = None


class BatchViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BatchView

    reference = factory.Sequence(lambda n: f"batch-{n:04}")
    sku = factory.Sequence(lambda n: f"SKU-{n:04}")
    purchased = 100
    allocated = 0


class OrderLineViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLineView

    orderid = factory.Sequence(lambda n: f"order-{n:05}")
    sku = "SKU-0000"
    qty = 1
    status = LineStatus.ALLOCATED
    batchref = "batch-0000"


class OrderViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderView

    orderid = factory.Sequence(lambda n: f"order-{n:05}")
    status = OrderStatus.ALLOCATED
    line_count = 1
    allocated_lines = 1
    waiting_lines = 0


class SkuStockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SkuStock

    sku = factory.Sequence(lambda n: f"SKU-{n:04}")
    purchased = 100
    allocated = 0
    available = 100
    waiting = 0
    batch_count = 1
