from django.urls import path

from apps.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.entry_index, name="index"),
    path("new/", views.entry_create, name="create"),
    path("<uuid:pk>/", views.entry_detail, name="detail"),
    path("<uuid:pk>/edit/", views.entry_edit, name="edit"),
    path("<uuid:pk>/delete/", views.entry_delete, name="delete"),
    path("<uuid:pk>/approve/", views.entry_approve, name="approve"),
    path("<uuid:pk>/reject/", views.entry_reject, name="reject"),
]
