"""Notifications to people, through Django's email backend (console, locmem or SMTP)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail


def email_stock_team(subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [settings.STOCK_ALERT_EMAIL])
