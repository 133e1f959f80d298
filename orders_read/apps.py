from django.apps import AppConfig


class OrdersReadConfig(AppConfig):
    """The read side: denormalised tables written only by projection tasks."""

    name = "orders_read"
    verbose_name = "Orders (read model)"
    default_auto_field = "django.db.models.BigAutoField"
