"""Settings, read from the environment (django-environ).

With no environment at all you get the embedded setup: SQLite, Celery tasks run
in-process after commit, emails on the console. Set ``DATABASE_URL`` and ``REDIS_URL``
for PostgreSQL and a real broker; ``READ_DATABASE_URL`` puts the read model elsewhere.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="django-insecure-embedded-dev-key-change-me")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # the API docs' page and its assets, served from here rather than a CDN
    "axes",  # failed logins and lockouts: its tables, admin pages and axes_reset* commands
    "allocation",
    "orders_read",
    "allocation.entrypoints",
]

MIDDLEWARE = [
    # First, so that it compresses the answer every other middleware has finished
    # (ApiAnswersJsonMiddleware rewrites bodies). Whitenoise's static files arrive
    # compressed already and are left alone.
    "django.middleware.gzip.GZipMiddleware",
    "allocation.entrypoints.web.middleware.RequestMetricsMiddleware",
    "allocation.entrypoints.web.middleware.ApiAnswersJsonMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "allocation.entrypoints.web.middleware.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "allocation.entrypoints.web.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allocation.entrypoints.web.middleware.PageMessagesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allocation.entrypoints.web.middleware.PrivateAnswersMiddleware",
    "allocation.entrypoints.web.middleware.ServiceUnavailableMiddleware",
    "allocation.entrypoints.web.middleware.NotFoundPageMiddleware",
    # Last, as django-axes asks: it turns a lockout its backend flagged into the answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


DB_CONNECT_TIMEOUT = env.float("DB_CONNECT_TIMEOUT", default=2.0)


def _database(url_var: str, default: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = env.db_url(url_var, default=default)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3's pool by default (persistent connections must stay off with it).
        # DB_POOL_SIZE=0 switches to one persistent connection per thread instead
        # (docs/performance.md compares the two: less database CPU, no more throughput).
        # Health checks test a connection before the pool lends it (our backend,
        # allocation.adapters.postgresql: a round trip only if the server has spoken
        # since), or a persistent one before its first query in a request (the same
        # check), so one the server dropped is replaced instead of failing.
        #
        # Server-side binding and prepared statements: Django leaves both off so that
        # transaction poolers (PgBouncer before 1.21) work; we talk to PostgreSQL
        # directly and run the same few statements on every request, so PostgreSQL
        # parses and plans each once per connection: a third less database CPU per
        # allocation (docs/performance.md). DB_SERVER_SIDE_BINDING=0 behind such a pooler.
        # Names the process in pg_stat_activity (e.g. allocation-web, allocation-relay).
        #
        # DB_CONNECT_TIMEOUT bounds how long anything waits for a connection: the pool's
        # wait for one (psycopg's default is 30 s) and libpq's for a new one (unbounded by
        # default; whole seconds, 2 at least). An unreachable server then costs a request
        # this long and answers 503 with Retry-After instead of hanging.
        options: dict[str, Any] = {
            "application_name": env("DB_APPLICATION_NAME", default="allocation"),
            "connect_timeout": max(2, math.ceil(DB_CONNECT_TIMEOUT)),
        }
        if env.bool("DB_SERVER_SIDE_BINDING", True):
            options |= {"server_side_binding": True, "prepare_threshold": 5}
        if pool_size := env.int("DB_POOL_SIZE", 20):
            options["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": DB_CONNECT_TIMEOUT}
            config["CONN_MAX_AGE"] = 0
            config["CONN_HEALTH_CHECKS"] = False  # the backend checks what the pool lends
        else:
            config["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", 600)
            config["CONN_HEALTH_CHECKS"] = True
        config["ENGINE"] = "allocation.adapters.postgresql"
        config["OPTIONS"] = options
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
        # failing with "database is locked" halfway through a transaction.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASES = {"default": _database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if env("READ_DATABASE_URL", default=""):
    DATABASES["read"] = _database("READ_DATABASE_URL")
    DATABASE_ROUTERS = ["orders_read.routers.ReadModelRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `manage.py collectstatic` puts them, for whitenoise to serve (production needs it
# run once per deploy: README, "Production").
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files a browser asks for at the site's root (/favicon.ico), served by whitenoise as
# they are: no hashed name to look up, so they need no collectstatic either.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# -- response headers ----------------------------------------------------------------------
# A strict Content-Security-Policy (django-csp): scripts, styles and everything else
# from this site only, no inline script or style attribute (the templates have none:
# keep it so), no framing, forms posting here only. data: images are the API docs
# page's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}
# The browser features no page here uses, refused to every page and frame
# (django-permissions-policy).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
        "publickey-credentials-get", "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
    )
}  # fmt: skip

# -- failed logins (django-axes) ----------------------------------------------------------
# Both login forms (/accounts/login/ and /admin/login/) go through ``authenticate``,
# where axes' backend refuses a locked-out client before any password is checked.
# AXES_FAILURE_LIMIT failures within AXES_COOLOFF_SECONDS lock out the account (from
# whatever address) and, separately, the client address (whatever account it tries),
# until AXES_COOLOFF_SECONDS after the last failure. Attempts are kept in the database
# (axes' default handler), so every web process sees them and a Redis outage loses none.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("AXES_COOLOFF_SECONDS", default=15 * 60))
# A lockout is answered 429 with Retry-After (allocation.entrypoints.web.login).
AXES_LOCKOUT_CALLABLE = "allocation.entrypoints.web.login.locked_out"
# Logins that never failed need no row of their own, and a process's start no log line.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False


def client_address(trusted_proxies: int) -> tuple[int | None, list[str]]:
    """django-ipware's proxy count and headers, for this many proxies in front of us.

    TRUSTED_PROXY_COUNT counts the reverse proxies a request passes before gunicorn,
    each appending the address it received the request from to X-Forwarded-For (as
    nginx's ``$proxy_add_x_forwarded_for`` does). The client is then the entry that many
    places from the end; whatever the client wrote before it is ignored. ipware counts
    only the proxies that appear in the header, one fewer, and must not be strict (a
    client's own X-Forwarded-For makes the header longer). With no proxy, only the
    connection's address counts: a header the client can send itself would let every
    request claim a new address. AXES_IPWARE_META_PRECEDENCE_ORDER (request.META names)
    replaces the header, e.g. ``HTTP_X_REAL_IP``.
    """
    if trusted_proxies <= 0:
        return None, ["REMOTE_ADDR"]
    headers = env.list("AXES_IPWARE_META_PRECEDENCE_ORDER", default=["HTTP_X_FORWARDED_FOR"])
    return trusted_proxies - 1, [*headers, "REMOTE_ADDR"]


IPWARE_STRICT = False
AXES_IPWARE_PROXY_COUNT, AXES_IPWARE_META_PRECEDENCE_ORDER = client_address(
    env.int("TRUSTED_PROXY_COUNT", default=0)
)

# Users and their permissions from the cache (AUTH_CACHE_TIMEOUT, with Redis below).
# axes' backend first: it refuses a locked-out client before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "allocation.entrypoints.web.auth.CachedModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# -- Redis, Celery, pub/sub ------------------------------------------------------------
REDIS_URL: str = env("REDIS_URL", default="")
# Shared by every process when Redis is there. An unreachable Redis is a cache miss
# (allocation.entrypoints.web.cache): sessions and users come from the database then.
CACHES = {
    "default": (
        {"BACKEND": "allocation.entrypoints.web.cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Who is asking costs no query with Redis: sessions are read from it (written through
# to the database, which keeps them if Redis is flushed), and so are the user and its
# permissions (allocation.entrypoints.web.auth), for AUTH_CACHE_TIMEOUT seconds at most;
# entries are deleted when users, groups or permissions change. Without Redis the cache
# is each process's own memory, which another gunicorn worker's logout or revoked
# permission would not reach: sessions stay in the database alone and users are not
# cached (0 = off).
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)
AUTH_CACHE_TIMEOUT = env.int("AUTH_CACHE_TIMEOUT", default=300 if REDIS_URL else 0)
# Redis Streams, the durable integration (allocation.entrypoints.redis_streams): the
# line_allocated stream keeps about this many entries (MAXLEN ~), as far back as an
# offline reader can catch up; a consumer's pending command is claimed by another after
# STREAM_CLAIM_IDLE seconds without news of it; a command failing for an unexpected
# reason goes to the dead letters at the STREAM_MAX_ATTEMPTS-th attempt.
STREAM_MAXLEN = env.int("STREAM_MAXLEN", default=1_000_000)
STREAM_CLAIM_IDLE = env.float("STREAM_CLAIM_IDLE", default=60.0)
STREAM_MAX_ATTEMPTS = env.int("STREAM_MAX_ATTEMPTS", default=5)
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Embedded default: no broker, so tasks run in-process (after commit, same code path).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# At-least-once delivery: ack after the task ran, requeue when a worker dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the worker's database connections before and after every
# task, and under the prefork pool it closes the psycopg pool too: a new PostgreSQL
# connection per task, most of a projection's cost (docs/performance.md). Keep them for
# this many tasks; a connection broken meanwhile fails its tasks, which are retried.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=50)
# Threads, not prefork: tasks are short and mostly wait on PostgreSQL, and under prefork
# each one also paid for the hand-off between processes; projection lag was several
# times worse at the same rate (docs/performance.md). Scale out with more workers.
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=4)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # How long an unacknowledged task waits before Redis hands it to another worker.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # How often a worker looks for such tasks (seconds between sweeps, scan every Nth).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
    # A web process must not hang on a dead broker: fail fast, the outbox relay resends.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The relay (manage.py relay_outbox --follow) is woken by each commit on PostgreSQL;
# this is how long it sleeps at most (its only clock on other databases).
RELAY_POLL_INTERVAL = env.float("RELAY_POLL_INTERVAL", default=1.0)
# Woken by a commit, the relay waits this long (s) so that the commits of that moment
# go to a worker as one batch; longer under load, up to RELAY_LINGER_MAX
# (allocation.entrypoints.relay, docs/performance.md).
RELAY_LINGER = env.float("RELAY_LINGER", default=0.01)
RELAY_LINGER_MAX = env.float("RELAY_LINGER_MAX", default=0.04)
# Delivered means applied: an event written but not applied after RECONCILE_AFTER
# seconds is sent again; the relay looks every RECONCILE_EVERY seconds.
RECONCILE_AFTER = env.float("RECONCILE_AFTER", default=10.0)
RECONCILE_EVERY = env.float("RECONCILE_EVERY", default=5.0)
# A fallback for a relay that is not running: one round of relay and reconciler.
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "allocation.tasks.relay_outbox", "schedule": 10.0},
}

# `manage.py load_demo_data` (make run) creates the superuser admin/admin: never in
# production (config.production turns it off).
DEMO_DATA_ALLOWED = True

# -- API ---------------------------------------------------------------------------------
# Development leaves the JSON write endpoints open; production requires a token.
API_REQUIRE_TOKEN = env.bool("API_REQUIRE_TOKEN", default=False)
# The reads too (orders are private, their ids guessable): a token or a logged-in
# session, of a user allowed to view orders. Open in development, where the book's
# clients read without either.
API_READS_REQUIRE_AUTH = env.bool("API_READS_REQUIRE_AUTH", default=False)

# -- read model --------------------------------------------------------------------------
# Reads wait at most this long for the projection to catch up with the caller's writes.
READ_YOUR_WRITES_TIMEOUT = env.float("READ_YOUR_WRITES_TIMEOUT", default=2.0)
# /readyz fails when an event written this long ago (seconds) is still not applied.
READY_MAX_READ_MODEL_LAG = env.float("READY_MAX_READ_MODEL_LAG", default=30.0)

# -- email -------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="allocation@localhost")
STOCK_ALERT_EMAIL = env("STOCK_ALERT_EMAIL", default="stock@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django gives its "django" logger handlers of its own (the console while DEBUG,
        # mail to ADMINS, of which there are none) and its records also propagate to the
        # root's: every django.request warning was printed twice. Here they go to the
        # root's handler alone, at the root's level (NOTSET: inherited).
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
        "celery.app.trace": {"level": "WARNING"},
    },
}
