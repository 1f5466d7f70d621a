from django.urls import path

from apps.documents import views

app_name = "documents"
urlpatterns = [
    path("", views.document_list, name="list"),
    path("<uuid:pk>/", views.document_detail, name="detail"),
]
