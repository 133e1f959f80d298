"""Settings for the test run: the project's own, plus what only tests want.

Each test process keeps its cache in memory (Redis would carry counters and cached
users across tests and runs; the Redis cache has its own tests) and hashes passwords
cheaply (users are created by the hundred). On PostgreSQL it uses Django's backend with
a cheaper flush and commit (``tests/postgresql/base.py`` says why that proves the same).
Processes a test starts (gunicorn, Celery workers, the relay) run the project's settings
(``tests/processes.py``).
"""

from config.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

for _database in DATABASES.values():  # noqa: F405
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["ENGINE"] = "tests.postgresql"
