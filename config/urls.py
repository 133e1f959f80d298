from django.contrib import admin
from django.urls import include, path

from allocation import api as write_api
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
    path("admin/", admin.site.urls),
    path("api/", include(api)),
]
