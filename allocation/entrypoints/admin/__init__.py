"""The admin: staff's view of both sides (``write_side`` acts through the bus).

Branded with the site's name, so that staff who move between the pages and the admin
know they are on the same service (Django says "Django administration" otherwise).
"""

from django.contrib import admin

from allocation.entrypoints.admin import read_side, write_side

admin.site.site_header = "Allocation administration"
admin.site.site_title = "Allocation admin"
admin.site.index_title = "Stock, orders and events"

__all__ = ["read_side", "write_side"]
