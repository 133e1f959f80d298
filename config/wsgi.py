import logging
import os

from django.core import checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn runs no system checks (runserver does). Each worker logs at start the deploy
# errors that break every page, such as static files never collected, and still serves:
# /readyz then reports the same, and pages answer 503.
for problem in checks.run_checks(tags=[checks.Tags.staticfiles], include_deployment_checks=True):
    if problem.is_serious():
        hint = f" {problem.hint}" if problem.hint else ""
        logging.getLogger("config.wsgi").critical("%s: %s%s", problem.id, problem.msg, hint)
