from django.contrib import admin
from django.urls import include, path

# The service's own routes first, the JSON API first among them (its calls are most of
# the traffic): Django tries the patterns in order, for every request.
urlpatterns = [
    path("", include("allocation.entrypoints.urls")),
    path("admin/", admin.site.urls),
]
