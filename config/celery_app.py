"""The Celery app: ``celery -A config worker`` (and ``beat`` for the outbox relay)."""

import os

from celery import Celery

from allocation.adapters import kombu_redis

kombu_redis.apply()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("allocation")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
