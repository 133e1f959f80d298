from django.apps import AppConfig


class AllocationConfig(AppConfig):
    """The write side: domain model, message bus and the tables that persist them."""

    name = "allocation"
    default_auto_field = "django.db.models.BigAutoField"
