"""The read side: the tables the pages and the API read, kept up to date from events.

A map, in the order a newcomer might read it:

- ``models`` the read-model tables; ``rules`` the business rules they follow (an
  order's status, its ship date), in plain Python.
- ``projections`` events in, rows out: ``policy`` says what an event touches,
  ``recorder`` recomputes those rows in SQL, ``project`` runs a batch in one
  transaction.
- ``selectors`` every read of the pages and the API, by use; ``freshness`` the one
  read-your-writes mechanism they share.
- ``rebuild`` all tables again from the write side; ``tracking`` what is applied, for
  the delivery check; ``sql`` the plain-SQL helpers; ``routers`` the read model in a
  database of its own.

Of the write side it imports only the domain's events. What else it needs it declares
as ports (``freshness.WritePositions``, ``rebuild.WriteSide``), which the composition
root (``allocation.bootstrap``) fills with adapters.
"""
