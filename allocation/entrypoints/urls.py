"""Every route the service answers, but the admin's (``config.urls`` mounts both)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from allocation.entrypoints import api, command_views, read_api, read_views
from allocation.entrypoints.web import health
from allocation.entrypoints.web.login import RateLimitedLoginView

api_routes = [
    path("add_batch", api.add_batch, name="api-add-batch"),
    path("allocate", api.allocate, name="api-allocate"),
    path("deallocate", api.deallocate, name="api-deallocate"),
    path("change_batch_quantity", api.change_batch_quantity, name="api-change-quantity"),
    path("allocations/<str:orderid>", read_api.allocations, name="api-allocations"),
    path("orders/<str:orderid>", read_api.order, name="api-order"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/", include(api_routes)),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", read_views.dashboard, name="dashboard"),
    path("stock/", read_views.stock, name="stock"),
    path("stock/<path:sku>/", read_views.sku_detail, name="sku-detail"),
    path("orders/", read_views.orders, name="orders"),
    path("orders/<path:orderid>/", read_views.order_detail, name="order-detail"),
    path("batches/new/", command_views.add_batch, name="add-batch"),
    path("batches/change-quantity/", command_views.change_batch_quantity, name="change-quantity"),
    path("place-order/", command_views.place_order, name="place-order"),
    path("deallocate/", command_views.deallocate, name="deallocate"),
]
