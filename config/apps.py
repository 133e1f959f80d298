from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app, for wiring every process needs (no models).

    The auth cache's receivers must run wherever users, groups or permissions change
    (web, Celery worker, ``manage.py shell``), not only in processes that happened to
    load the authentication backend; ``ready()`` is the one hook every process runs.
    They live here, next to the backend they serve, rather than in ``allocation``,
    whose app is the write side of the domain and knows nothing of logins.
    """

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from config.auth import connect_invalidation

        connect_invalidation()
