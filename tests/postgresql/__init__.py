"""Django's PostgreSQL backend, as the test process uses it (``tests/settings.py``)."""
