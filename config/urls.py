from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from allocation import api as write_api
from config import health
from config.login import RateLimitedLoginView
from orders_read import api as read_api

api = [
    path("add_batch", write_api.add_batch, name="api-add-batch"),
    path("allocate", write_api.allocate, name="api-allocate"),
    path("deallocate", write_api.deallocate, name="api-deallocate"),
    path("change_batch_quantity", write_api.change_batch_quantity, name="api-change-quantity"),
    path("allocations/<str:orderid>", read_api.allocations, name="api-allocations"),
    path("orders/<str:orderid>", read_api.order, name="api-order"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("allocation.urls")),
    path("", include("orders_read.urls")),
]
