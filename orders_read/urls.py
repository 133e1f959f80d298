from django.urls import path

from orders_read import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("stock/", views.stock, name="stock"),
    path("stock/<path:sku>/", views.sku_detail, name="sku-detail"),
    path("orders/", views.orders, name="orders"),
    path("orders/<path:orderid>/", views.order_detail, name="order-detail"),
]
