from django.urls import path

from apps.knowledge import search_views

app_name = "scripture"
urlpatterns = [path("", search_views.scripture_page, name="read")]
