from django.urls import path

from apps.chat import views

app_name = "chat"
urlpatterns = [
    path("", views.chat_index, name="index"),
    path("new/", views.chat_new, name="new"),
    path("<uuid:pk>/", views.chat_detail, name="detail"),
    path("<uuid:pk>/delete/", views.chat_delete, name="delete"),
]
