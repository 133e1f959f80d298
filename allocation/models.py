"""Write-side tables. Persistence only: the rules live in ``allocation.domain``.

Products, batches and lines change only through the repository, inside a Unit of
Work, so every change is version-checked and emits its events; the outbox and the
dead letters belong to the outbox adapter. The admin shows these tables and acts
through the message bus (``allocation.entrypoints.admin``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ProductRecord(models.Model):
    sku = models.CharField(max_length=255, primary_key=True)
    version_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "allocation_product"
        verbose_name = "product"
        # What the web forms, the admin and the API check before sending a command.
        permissions = [
            ("create_batch", "Can add batches of stock"),
            ("allocate_line", "Can allocate order lines"),
            ("change_batch_quantity", "Can change batch quantities"),
            ("deallocate_line", "Can deallocate order lines"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} (v{self.version_number})"


class BatchRecord(models.Model):
    reference = models.CharField(max_length=255, unique=True)
    product = models.ForeignKey(
        ProductRecord, on_delete=models.PROTECT, db_column="sku", related_name="batches"
    )
    purchased_quantity = models.PositiveIntegerField()
    allocated_quantity = models.PositiveIntegerField(default=0)
    eta = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "allocation_batch"
        verbose_name = "batch"
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.reference


class OrderLineRecord(models.Model):
    """One row per ``(orderid, sku)``: allocated to a batch, or waiting when batch is null."""

    orderid = models.CharField(max_length=255)
    # Indexed only as the queries need (Meta): an index per foreign key, and its
    # pattern-matching twin, cost every line written and misled the planner (below).
    product = models.ForeignKey(
        ProductRecord,
        on_delete=models.PROTECT,
        db_column="sku",
        related_name="lines",
        db_index=False,
    )
    qty = models.PositiveIntegerField()
    batch = models.ForeignKey(
        BatchRecord,
        on_delete=models.PROTECT,
        to_field="reference",
        db_column="batchref",
        null=True,
        related_name="lines",
        db_index=False,
    )
    arrival = models.PositiveBigIntegerField()
    sequence = models.PositiveBigIntegerField(null=True)

    class Meta:
        db_table = "allocation_order_line"
        verbose_name = "order line"
        constraints = [
            models.UniqueConstraint(fields=["orderid", "product"], name="one_line_per_order_sku")
        ]
        # Each question the repository asks has exactly one index to answer it: an
        # order's line (the unique key), a SKU's waiting lines (their queue), a batch's
        # lines. With an index on the SKU alone, a SKU that grew since the last ANALYZE
        # had its every line read to find one order's (the planner believed it small):
        # the hot SKU's allocations slowed as its lines piled up.
        indexes = [
            models.Index(
                fields=["product", "arrival"],
                condition=models.Q(batch__isnull=True),
                name="waiting_lines_by_arrival",
            ),
            models.Index(
                fields=["batch"],
                condition=models.Q(batch__isnull=False),
                name="allocated_lines_by_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.orderid}/{self.product_id} x{self.qty}"


class OutboxEvent(models.Model):
    """Domain events, written in the same transaction as the change that raised them.

    The row is the truth. ``sent_at`` says when the relay (or the reconciler) last
    handed the event to the broker: a hint for the relay, not a delivery receipt; an
    event is delivered once the read model has applied it
    (``allocation.service_layer.delivery``).
    ``(sku, version)`` identifies the event everywhere; ``id`` only orders the relay's
    claims (it is not gap-free in commit order, so nothing relies on it for
    completeness). On PostgreSQL an insert also sends ``NOTIFY allocation_outbox`` in
    the same transaction (a trigger, migration 0006), which wakes the relay. ``event_id``
    finds the rows' ids again on a database that cannot return them from a bulk insert.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=64)
    sku = models.CharField(max_length=255)
    version = models.PositiveBigIntegerField()
    orderid = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Who asked for the change (``allocation.service_layer.actor``: "user:alice"); null
    # for the events stored before it was recorded.
    actor = models.CharField(max_length=255, null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # How often it was handed to the broker: the reconciler waits longer before each resend.
    sends = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "allocation_outbox"
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent"
            ),
            models.Index(fields=["sku", "version"], name="outbox_by_sku_version"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.name} {self.sku} v{self.version}"


class DeadLetter(models.Model):
    """An event handler that kept failing after every retry (a poison event).

    Parked here, visible in the admin, so the rest of the pipeline keeps flowing and a
    person can fix the cause and replay it.
    """

    handler = models.CharField(
        max_length=128, blank=True, help_text="Empty: the event itself failed, for every handler."
    )
    event_name = models.CharField(max_length=64)
    payload = models.JSONField()
    error = models.TextField()
    task_id = models.CharField(max_length=255, blank=True)
    # The event's identity, so the reconciler leaves a parked event alone until replayed.
    sku = models.CharField(max_length=255, blank=True)
    version = models.PositiveBigIntegerField(null=True, blank=True)
    failed_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "allocation_dead_letter"
        ordering = ["-failed_at"]
        indexes = [
            models.Index(
                fields=["sku", "version"],
                condition=models.Q(replayed_at__isnull=True),
                name="dead_letter_parked",
            )
        ]

    def __str__(self) -> str:
        return f"{self.handler}({self.event_name}) failed"


class ApiToken(models.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "allocation_api_token"
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class StreamPosition(models.Model):
    """The newest message of a Redis Stream applied to one key (a batch reference).

    Written in the transaction of the command the message became
    (``allocation.adapters.inbox``): a message redelivered after its consumer died, or
    claimed by a second consumer while the first still ran, finds its own id (or a
    later one) here and is not applied again; and one older than what was applied to
    its batch is not applied over it, so parallel consumers leave the batch as the
    stream's order says. One row per batch, whatever the number of messages.
    """

    stream = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    # A stream entry id "<ms>-<seq>", as two numbers that compare in the stream's order.
    message_ms = models.PositiveBigIntegerField()
    message_seq = models.PositiveBigIntegerField()
    applied_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "allocation_stream_position"
        constraints = [
            models.UniqueConstraint(fields=["stream", "key"], name="one_position_per_stream_key")
        ]

    def __str__(self) -> str:
        return f"{self.stream}/{self.key} at {self.message_ms}-{self.message_seq}"
