"""Read-model tables. Only the projections (``orders_read.projections``) and the
rebuild (``orders_read.rebuild``) write them.

``EventLog`` is the ledger of applied events, unique per ``(sku, version)``: it makes
projections idempotent (a duplicate insert is skipped) and order-safe (every other
table is recomputed from the newest logged event for the key it describes), and it is
the history shown for orders and SKUs and what read-your-writes checks
(``orders_read.freshness``). ``AppliedPosition`` is the tracking record the delivery
check compares with the write side.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from orders_read.rules import LineStatus, OrderStatus

# The statuses are the rules' (plain Python, see orders_read.rules); the labels are
# what the pages and the admin show.
LINE_STATUS_LABELS = {LineStatus.ALLOCATED: "Allocated", LineStatus.WAITING: "Waiting for stock"}
ORDER_STATUS_LABELS = {
    OrderStatus.ALLOCATED: "Allocated",
    OrderStatus.PARTLY_ALLOCATED: "Partly allocated",
    OrderStatus.WAITING: "Waiting for stock",
}


class EventLog(models.Model):
    sku = models.CharField(max_length=255)
    version = models.PositiveBigIntegerField()
    name = models.CharField(max_length=64)
    orderid = models.CharField(max_length=255, null=True, blank=True)
    batchref = models.CharField(max_length=255, null=True, blank=True)
    payload = models.JSONField()
    # When the event happened (the write side's time, kept by a rebuild): what
    # histories show. ``applied_at`` is when this row was written: what lag is.
    occurred_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(auto_now_add=True)
    # Who asked for the change, as the write side stored it ("user:alice", see
    # ``allocation.service_layer.actor``; the pages put it in words): kept by a rebuild.
    # Null for events stored before it was recorded.
    actor = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sku", "version"], name="one_event_per_version")
        ]
        indexes = [
            models.Index(fields=["orderid", "sku", "version"], name="eventlog_by_line"),
            # A batch's own events (created, quantity changed) without walking its lines'.
            models.Index(fields=["batchref", "name", "version"], name="eventlog_by_batch"),
            models.Index(fields=["-occurred_at"], name="eventlog_recent"),
            # A SKU's events of the last days (its page's chart), not its whole history.
            models.Index(fields=["sku", "occurred_at"], name="eventlog_by_sku_time"),
        ]
        ordering = ["sku", "version"]

    def __str__(self) -> str:
        return f"{self.name} {self.sku} v{self.version}"


class AppliedPosition(models.Model):
    """Per SKU, the version up to which *every* event is applied: a tracking record.

    Written in the projection's own transaction, so it can never claim more than the
    read model holds. Events may be applied out of order; the position only moves over
    a contiguous run of logged versions, so a gap (an event lost on the way) holds it
    back until the gap is filled. Compared with the write side's last version per SKU,
    it says exactly which events are written but not applied
    (``allocation.service_layer.delivery``, through ``orders_read.tracking``).
    """

    sku = models.CharField(max_length=255, primary_key=True)
    version = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["sku"]
        verbose_name = "applied position"

    def __str__(self) -> str:
        return f"{self.sku} applied up to v{self.version}"


class OrderLineView(models.Model):
    """One row per live ``(orderid, sku)``: allocated to a batch, or waiting."""

    orderid = models.CharField(max_length=255)
    sku = models.CharField(max_length=255)
    qty = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=LINE_STATUS_LABELS)
    batchref = models.CharField(max_length=255, null=True, blank=True)
    # A waiting line's place in its SKU's first-come-first-served queue (the write
    # side's arrival, carried by OutOfStock): lower comes first. Null unless waiting.
    arrival = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["orderid", "sku"], name="one_view_per_line")]
        indexes = [
            models.Index(fields=["batchref", "status"], name="lineview_by_batch"),
            # A SKU's lines of a status; its waiting lines in queue order (queue
            # positions). The status comes first so that nothing but the unique key can
            # find a line by order and SKU: led by the SKU, this index was the planner's
            # pick for that whenever the statistics said the SKU was small (a SKU grown
            # since the last ANALYZE), and the projection read all its lines per event.
            models.Index(fields=["status", "sku", "arrival"], name="lineview_by_status"),
        ]
        ordering = ["orderid", "sku"]
        verbose_name = "order line"

    def __str__(self) -> str:
        return f"{self.orderid} {self.sku} x{self.qty} ({self.status})"


class BatchView(models.Model):
    reference = models.CharField(max_length=255, unique=True)
    sku = models.CharField(max_length=255, db_index=True)
    eta = models.DateField(null=True, blank=True)
    purchased = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sku", "eta", "reference"]
        verbose_name = "batch"
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.reference

    @property
    def available(self) -> int:
        return self.purchased - self.allocated


class OrderView(models.Model):
    orderid = models.CharField(max_length=255, primary_key=True)
    status = models.CharField(max_length=20, choices=ORDER_STATUS_LABELS)
    line_count = models.PositiveIntegerField()
    allocated_lines = models.PositiveIntegerField()
    waiting_lines = models.PositiveIntegerField()
    # Latest eta among the order's allocated batches; null when all ship from the warehouse.
    expected_ship_date = models.DateField(null=True, blank=True)
    # When the order's first event happened (the write side's time, so a rebuild gives
    # the same): the lists sort and filter by it. Null only while a rebuild has copied a
    # line whose event it had not logged yet; that event's projection fills it.
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["orderid"]
        verbose_name = "order"
        indexes = [
            models.Index(fields=["status", "orderid"], name="orderview_by_status"),
            # The order list's default: newest first (one index walk per page).
            models.Index(fields=["-created_at", "-orderid"], name="orderview_newest"),
        ]

    def __str__(self) -> str:
        return self.orderid


class SkuStock(models.Model):
    # Sums over a SKU's batches and lines, each of which may hold up to 2**31 - 1
    # units: 64-bit, or two full batches of one SKU would stop its projection.
    sku = models.CharField(max_length=255, primary_key=True)
    purchased = models.PositiveBigIntegerField()
    allocated = models.PositiveBigIntegerField()
    available = models.BigIntegerField()
    waiting = models.PositiveBigIntegerField(
        help_text="Quantity demanded by lines waiting for stock"
    )
    next_eta = models.DateField(null=True, blank=True)
    batch_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["sku"]
        verbose_name = "SKU stock"
        verbose_name_plural = "SKU stock"

    def __str__(self) -> str:
        return self.sku
