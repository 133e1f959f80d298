"""Puts the read model in its own database when ``READ_DATABASE_URL`` is set."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

READ_APP = "orders_read"
READ_DB = "read"


class ReadModelRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return READ_DB if model._meta.app_label == READ_APP else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return READ_DB if model._meta.app_label == READ_APP else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == READ_APP:
            return db == READ_DB
        return db != READ_DB
