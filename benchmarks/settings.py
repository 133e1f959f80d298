"""Settings of the benchmarked server: the project's own, plus the ceiling route.

Only ``ROOT_URLCONF`` changes, so every real endpoint runs exactly as configured in
``config.settings`` (same middleware, same database connections, same Celery options)
and the bare view measures the framework's ceiling under the same stack.

``BENCH_DB_CONNECTIONS`` (``--db-connections``) can force psycopg's ``pool`` or Django's
``persistent`` connections, to compare the two on otherwise identical runs.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES

ROOT_URLCONF = "benchmarks.urls"

_MODE = os.environ.get("BENCH_DB_CONNECTIONS", "settings")
for _database in DATABASES.values():
    if _database["ENGINE"] != "django.db.backends.postgresql" or _MODE == "settings":
        continue
    _options = {k: v for k, v in _database.get("OPTIONS", {}).items() if k != "pool"}
    if _MODE == "pool":
        _options["pool"] = {"min_size": 1, "max_size": 20}
    _database["OPTIONS"] = _options
    _database["CONN_MAX_AGE"] = 0 if _MODE == "pool" else 600
    _database["CONN_HEALTH_CHECKS"] = _MODE != "pool"  # as config.settings sets them
