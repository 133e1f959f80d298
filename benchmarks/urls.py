"""The project's URLs plus the ``/bench/ceiling`` views, which exist only in benchmark runs."""

from django.urls import include, path

from benchmarks.views import ceiling, ceiling_layout, ceiling_logged_in

urlpatterns = [
    path("bench/ceiling", ceiling, name="bench-ceiling"),
    path("bench/ceiling/logged-in", ceiling_logged_in, name="bench-ceiling-logged-in"),
    path("bench/ceiling/layout", ceiling_layout, name="bench-ceiling-layout"),
    path("", include("config.urls")),
]
