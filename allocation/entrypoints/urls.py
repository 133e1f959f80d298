"""Every route the service answers, but the admin's (``config.urls`` mounts both)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from allocation.entrypoints import command_views, csv_views, read_views
from allocation.entrypoints.api import api
from allocation.entrypoints.web import health

urlpatterns = [
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", read_views.dashboard, name="dashboard"),
    path("stock/", read_views.stock, name="stock"),
    path("stock/export.csv", csv_views.export_stock, name="export-stock"),
    path("stock/waiting-lines.csv", csv_views.export_waiting_lines, name="export-waiting-lines"),
    path("stock/skus.json", read_views.sku_suggestions, name="sku-suggestions"),
    path("stock/<path:sku>/", read_views.sku_detail, name="sku-detail"),
    path("orders/", read_views.orders, name="orders"),
    path("orders/export.csv", csv_views.export_orders, name="export-orders"),
    path("orders/<path:orderid>/", read_views.order_detail, name="order-detail"),
    path("batches/new/", command_views.add_batch, name="add-batch"),
    path("batches/import/", csv_views.import_batches, name="import-batches"),
    path("batches/change-quantity/", command_views.change_batch_quantity, name="change-quantity"),
    path("place-order/", command_views.place_order, name="place-order"),
    path("deallocate/", command_views.deallocate, name="deallocate"),
]
