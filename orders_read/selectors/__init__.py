"""Selectors: everything the pages and the API read, from the read model only.

By use: ``orders`` (an order, its allocations, the order list), ``stock`` (SKUs and
batches), ``dashboard``. Reads about something the caller may just have written take
the ``WritePositions`` port and wait for it (``orders_read.freshness``), answering
``(found, fresh)``. Each page asks one function for everything it shows, in a bounded
number of queries whatever the size of the tables (lists are paginated by the views).
"""
