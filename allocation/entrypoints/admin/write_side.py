"""Admin for the write side: staff change stock, but only through the message bus.

Saving a batch sends ``CreateBatch`` or ``ChangeBatchQuantity`` and cancelling lines
sends ``Deallocate``, so the aggregate's rules, the version check and the events apply
exactly as they do for the API. Nothing here saves a write-side model itself, and
nothing can be deleted. Adding a batch asks what the Add batch page asks, with its code
(``forms.check_new_batch``): a SKU nobody has seen needs "Create new SKU X" ticked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from allocation.adapters import outbox
from allocation.bootstrap import bootstrap
from allocation.domain import commands
from allocation.entrypoints import actors, inputs
from allocation.entrypoints.admin.read_side import ReadOnlyAdmin, ShowsActor
from allocation.entrypoints.forms import (
    Confirmation,
    check_new_batch,
    qty_field,
    show_command_error,
    sku_field,
    text_field,
)
from allocation.entrypoints.tasks import handle_event, metadata
from allocation.models import (
    ApiToken,
    BatchRecord,
    DeadLetter,
    OrderLineRecord,
    OutboxEvent,
    ProductRecord,
)
from allocation.service_layer.actor import Actor
from orders_read.selectors import stock

if TYPE_CHECKING:
    BatchModelForm = forms.ModelForm[BatchRecord]
    BatchModelAdmin = admin.ModelAdmin[BatchRecord]
    LineModelAdmin = admin.ModelAdmin[OrderLineRecord]
else:  # not subscriptable at runtime
    BatchModelForm = forms.ModelForm
    BatchModelAdmin = LineModelAdmin = admin.ModelAdmin


class BatchCommandForm(BatchModelForm):
    """Sends its command as the last step of validation.

    The admin has no hook between "the form is valid" and "save" that can still reject
    the form, so the command runs here: the bus's refusal becomes an error next to the
    field, with the input kept, and the admin's ``save_model`` writes nothing itself.
    The admin wraps the request in a transaction, in which the Unit of Work nests.

    The fields apply the input rules the pages' forms and the API apply. The quantity
    is the model's: 0 or more, so a new batch of 0 reaches the domain, which refuses
    it ("must be positive").
    """

    purchased_quantity = qty_field("Purchased quantity", inputs.new_quantity)
    actor: Actor
    """Who sends the command: set by ``BatchAdmin.get_form`` on the class it makes for
    the request (the admin builds one per request)."""

    COMMAND_FIELDS = {"ref": "reference", "qty": "purchased_quantity"}
    """The commands' field names as this model's."""

    def command(self) -> commands.Command:
        raise NotImplementedError

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if not self.errors and self.has_changed():
            try:
                bootstrap().handle(self.command(), self.actor)
            except inputs.CLIENT_ERRORS as error:
                show_command_error(self, error, self.COMMAND_FIELDS)
        return cleaned

    def validate_unique(self) -> None:
        """A duplicate reference is the domain's to refuse (``DuplicateBatch``)."""


class CreateBatchAdminForm(BatchCommandForm):
    """Checked against what exists before its command is sent, as Add batch is; the
    question about a new SKU shows under the fields
    (``templates/admin/allocation/batchrecord/add_form.html``)."""

    reference = text_field("Reference")
    sku = sku_field()
    confirmation: Confirmation | None = None

    class Meta:
        model = BatchRecord
        fields = ["reference", "sku", "purchased_quantity", "eta"]

    def clean(self) -> dict[str, Any] | None:
        # Before the command, which the base class sends only if no field has an error.
        self.confirmation = check_new_batch(self, ref="reference")
        return super().clean()

    def command(self) -> commands.CreateBatch:
        data = self.cleaned_data
        return commands.CreateBatch(
            data["reference"], data["sku"], data["purchased_quantity"], data["eta"]
        )


class ChangeQuantityAdminForm(BatchCommandForm):
    class Meta:
        model = BatchRecord
        fields = ["purchased_quantity"]

    def command(self) -> commands.ChangeBatchQuantity:
        qty = self.cleaned_data["purchased_quantity"]
        return commands.ChangeBatchQuantity(self.instance.reference, qty)


@admin.register(BatchRecord)
class BatchAdmin(BatchModelAdmin):
    list_display = [
        "reference",
        "sku",
        "purchased_quantity",
        "allocated_quantity",
        "available",
        "eta",
    ]
    list_filter = [("eta", admin.EmptyFieldListFilter)]
    search_fields = ["reference", "product__sku"]
    ordering = ["product_id", "eta", "reference"]
    add_form_template = "admin/allocation/batchrecord/add_form.html"

    @admin.display(description="SKU", ordering="product_id")
    def sku(self, obj: BatchRecord) -> str:
        return obj.product_id

    @admin.display(description="available")
    def available(self, obj: BatchRecord) -> int:
        return obj.purchased_quantity - obj.allocated_quantity

    def get_form(
        self,
        request: HttpRequest,
        obj: BatchRecord | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[BatchRecord]]:
        kwargs["form"] = ChangeQuantityAdminForm if obj is not None else CreateBatchAdminForm
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = actors.of_request(request)  # type: ignore[attr-defined]
        return form

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: BatchRecord | None = None,
    ) -> HttpResponse:
        """The add form's SKU box suggests the known SKUs, the same bounded list as on
        the Add batch page (``forms.SkuInput``, ``includes/sku_datalist.html``)."""
        if add:
            context["sku_suggestions"] = stock.sku_suggestions()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_fields(self, request: HttpRequest, obj: BatchRecord | None = None) -> list[Any]:
        if obj is None:
            return ["reference", "sku", "purchased_quantity", "eta"]
        return ["reference", "product", "eta", "purchased_quantity", "allocated_quantity"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: BatchRecord | None = None
    ) -> list[str]:
        return [] if obj is None else ["reference", "product", "eta", "allocated_quantity"]

    def save_model(
        self, request: HttpRequest, obj: BatchRecord, form: forms.Form, change: bool
    ) -> None:
        """The form's command already wrote the batch; load it for the admin's log."""
        stored = BatchRecord.objects.get(reference=obj.reference)
        obj.pk, obj.product_id = stored.pk, stored.product_id
        obj.refresh_from_db()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("allocation.create_batch")

    def has_change_permission(self, request: HttpRequest, obj: BatchRecord | None = None) -> bool:
        return request.user.has_perm("allocation.change_batch_quantity")

    def has_delete_permission(self, request: HttpRequest, obj: BatchRecord | None = None) -> bool:
        return False


class LineStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("allocated", "Allocated"), ("waiting", "Waiting for stock")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[OrderLineRecord]
    ) -> QuerySet[OrderLineRecord]:
        if self.value() in ("allocated", "waiting"):
            return queryset.filter(batch__isnull=self.value() == "waiting")
        return queryset


@admin.register(OrderLineRecord)
class AllocationAdmin(LineModelAdmin):
    """Order lines, allocated or waiting; staff can only cancel them (``deallocate``)."""

    list_display = ["orderid", "sku", "qty", "batch_ref", "arrival"]
    list_filter = [LineStatusFilter]
    search_fields = ["orderid", "product__sku", "batch__reference"]
    ordering = ["orderid", "product_id"]
    actions = ["deallocate"]

    @admin.display(description="SKU", ordering="product_id")
    def sku(self, obj: OrderLineRecord) -> str:
        return obj.product_id

    @admin.display(description="batch", ordering="batch_id", empty_value="waiting for stock")
    def batch_ref(self, obj: OrderLineRecord) -> str | None:
        return obj.batch_id

    @admin.action(description="Cancel the selected lines", permissions=["deallocate"])
    def deallocate(self, request: HttpRequest, queryset: QuerySet[OrderLineRecord]) -> None:
        bus, actor, done = bootstrap(), actors.of_request(request), 0
        for orderid, sku in queryset.values_list("orderid", "product_id"):
            try:
                bus.handle(commands.Deallocate(orderid, sku), actor)
            except inputs.CLIENT_ERRORS as error:
                self.message_user(
                    request, f"Could not cancel {orderid} / {sku}: {error}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(request, f"Cancelled {done} line(s).", messages.SUCCESS)

    def has_deallocate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("allocation.deallocate_line")

    def has_view_permission(self, request: HttpRequest, obj: OrderLineRecord | None = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_deallocate_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: OrderLineRecord | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: OrderLineRecord | None = None
    ) -> bool:
        return False


@admin.register(ProductRecord)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["sku", "version_number"]
    search_fields = ["sku"]


@admin.register(OutboxEvent)
class OutboxAdmin(ShowsActor):
    """Where the read model's lag shows: events not yet handed to the workers."""

    list_display = ["id", "name", "sku", "version", "orderid", "created_at", "sent_at"]
    list_filter = ["name", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["sku", "orderid"]
    ordering = ["-id"]


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    """Poison events parked after their last retry; replay them once the cause is fixed."""

    list_display = ["failed_at", "handler", "event_name", "short_error", "replayed_at"]
    list_filter = ["handler", "event_name", ("replayed_at", admin.EmptyFieldListFilter)]
    search_fields = ["payload", "error"]
    actions = ["replay"]

    @admin.display(description="error")
    def short_error(self, obj: DeadLetter) -> str:
        return obj.error[:120]

    @admin.action(description="Replay the selected events", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:

        replayed = 0
        for letter in queryset.filter(replayed_at=None):
            only = [letter.handler] if letter.handler else None
            stored = outbox.stored(letter.sku, letter.version)
            beside = metadata(stored.occurred_at, stored.actor) if stored else {}
            handle_event.delay(letter.event_name, letter.payload, handlers=only, **beside)
            DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=timezone.now())
            replayed += 1
        self.message_user(request, f"Replayed {replayed} event(s).", messages.SUCCESS)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are issued by ``manage.py create_api_token``; here staff see and revoke them."""

    list_display = ["name", "user", "created_at", "last_used_at"]
    search_fields = ["name", "user__username"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser
