from django.apps import AppConfig


class EntrypointsConfig(AppConfig):
    """The entrypoints as a Django app: admin, management commands, template tags, tasks.

    ``ready()`` is the one hook every process runs (web, Celery worker, ``manage.py
    shell``), so the auth cache's receivers are connected wherever users, groups or
    permissions change, not only where the authentication backend happened to load, and
    the deployment's system checks (``checks``) are registered for every command.
    """

    name = "allocation.entrypoints"
    label = "entrypoints"
    verbose_name = "Entrypoints"

    def ready(self) -> None:
        from allocation.entrypoints import checks  # noqa: F401 (registers the system checks)
        from allocation.entrypoints.web.auth import connect_invalidation

        connect_invalidation()
