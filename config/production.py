"""Production settings: ``DJANGO_SETTINGS_MODULE=config.production``.

Everything secret or site-specific must come from the environment: importing this
module without ``SECRET_KEY`` or ``ALLOWED_HOSTS`` fails loudly instead of running
with a development default. ``manage.py check --deploy`` reports no warnings.
"""

from config.settings import *  # noqa: F403
from config.settings import LOGGING, client_address, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS everywhere (TLS ends at the proxy, which sets X-Forwarded-Proto).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes speak plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# Failed logins are counted per client address as the TLS proxy saw it (one proxy
# unless TRUSTED_PROXY_COUNT says otherwise; 0 when clients connect directly).
AXES_IPWARE_PROXY_COUNT, AXES_IPWARE_META_PRECEDENCE_ORDER = client_address(
    env.int("TRUSTED_PROXY_COUNT", default=1)
)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The JSON API's write endpoints need a token (manage.py create_api_token); its reads
# a token or a session, of a user allowed to view orders.
API_REQUIRE_TOKEN = True
API_READS_REQUIRE_AUTH = True

# No admin/admin here: load_demo_data refuses to run.
DEMO_DATA_ALLOWED = False

LOGGING = {
    **LOGGING,
    "formatters": {"json": {"()": "allocation.entrypoints.web.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
}
