"""Read-only admin for the read model: only projections write these tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from allocation.entrypoints import actors
from orders_read.models import BatchView, EventLog, OrderLineView, OrderView, SkuStock
from orders_read.selectors.stock import LOW_STOCK

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin  # not subscriptable at runtime


class ReadOnlyAdmin(ModelAdmin):
    """Staff may look, never edit: an edit here would be overwritten by the next event."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ShowsActor(ReadOnlyAdmin):
    """Events listed with who caused them, in words ("by alice"), a name only for staff
    who may see users (``actors.SEE_NAMES``): the stored text (``user:alice``) is in
    no column and no detail page."""

    exclude = ["actor"]

    def get_list_display(self, request: HttpRequest) -> list[str | Callable[[Any], str | bool]]:
        names = request.user.has_perm(actors.SEE_NAMES)

        @admin.display(description="by")
        def by(event: Any) -> str:
            return actors.describe(event.actor, names)

        return [*super().get_list_display(request), by]


class WhereFilter(admin.SimpleListFilter):
    title = "where"
    parameter_name = "where"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("warehouse", "In the warehouse"), ("shipment", "Shipment (has an ETA)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "warehouse":
            return queryset.filter(eta=None)
        if self.value() == "shipment":
            return queryset.exclude(eta=None)
        return queryset


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "level"
    levels = {
        "out": Q(available__lte=0),
        "low": Q(available__gt=0, available__lt=LOW_STOCK),
        "ok": Q(available__gte=LOW_STOCK),
        "backordered": Q(waiting__gt=0),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("out", "Out of stock"),
            ("low", f"Low (under {LOW_STOCK})"),
            ("ok", "In stock"),
            ("backordered", "With waiting demand"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        level = self.levels.get(self.value() or "")
        return queryset.filter(level) if level is not None else queryset


@admin.register(OrderView)
class OrderViewAdmin(ReadOnlyAdmin):
    list_display = [
        "orderid",
        "status",
        "line_count",
        "allocated_lines",
        "waiting_lines",
        "expected_ship_date",
        "updated_at",
    ]
    list_filter = ["status", "expected_ship_date"]
    search_fields = ["orderid"]


@admin.register(OrderLineView)
class OrderLineViewAdmin(ReadOnlyAdmin):
    list_display = ["orderid", "sku", "qty", "status", "batchref"]
    list_filter = ["status"]
    search_fields = ["orderid", "sku", "batchref"]


@admin.register(BatchView)
class BatchViewAdmin(ReadOnlyAdmin):
    list_display = ["reference", "sku", "eta", "purchased", "allocated", "available"]
    list_filter = [WhereFilter]
    search_fields = ["reference", "sku"]


@admin.register(SkuStock)
class SkuStockAdmin(ReadOnlyAdmin):
    list_display = [
        "sku",
        "purchased",
        "allocated",
        "available",
        "waiting",
        "next_eta",
        "batch_count",
    ]
    list_filter = [StockLevelFilter]
    search_fields = ["sku"]


@admin.register(EventLog)
class EventLogAdmin(ShowsActor):
    list_display = ["occurred_at", "name", "sku", "version", "orderid", "batchref"]
    list_filter = ["name"]
    search_fields = ["orderid", "sku", "batchref"]
    ordering = ["-occurred_at", "-id"]
