"""The project's URLs plus ``/bench/ceiling``, which exists only in benchmark runs."""

from django.urls import include, path

from benchmarks.views import ceiling

urlpatterns = [
    path("bench/ceiling", ceiling, name="bench-ceiling"),
    path("", include("config.urls")),
]
