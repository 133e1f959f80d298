"""Entrypoints: where the outside world enters, and the only code that uses both sides.

The JSON API, the pages and their forms, the admin, the management commands, the Redis
consumer, the relay and the Celery tasks turn input into commands for the write side
(through ``allocation.bootstrap``) and answer from the read side (``orders_read``).
``web/`` holds what every HTTP request passes through: authentication and its cache,
the login form, health and metrics, middleware, logging. See docs/architecture.md.
"""
