"""Benchmarks of the allocation service on its real stack.

``python -m benchmarks.run`` (or ``make benchmark``) measures, in one run on PostgreSQL,
Redis, a real Celery worker and gunicorn: allocate and read throughput, projection lag,
the cost of a SKU's history and a pgbench ceiling. See ``docs/performance.md``.
"""
