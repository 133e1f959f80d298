from django.urls import path

from allocation import views

urlpatterns = [
    path("batches/new/", views.add_batch, name="add-batch"),
    path("batches/change-quantity/", views.change_batch_quantity, name="change-quantity"),
    path("place-order/", views.place_order, name="place-order"),
    path("deallocate/", views.deallocate, name="deallocate"),
]
