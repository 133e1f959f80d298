"""Where a line is and when it ships, in the previews' tables (``entrypoints.outcomes``)."""

from __future__ import annotations

from django import template

from allocation.entrypoints import outcomes

register = template.Library()
register.filter("place", outcomes.place)
register.filter("ships", outcomes.ships)
