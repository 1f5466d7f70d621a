from django.urls import path

from apps.bible import views

app_name = "search"
urlpatterns = [
    path("", views.search_page, name="index"),
    path("bible-status/", views.bible_status_fragment, name="bible-status"),
]
