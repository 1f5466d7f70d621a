from django.urls import path

from apps.knowledge import search_views

app_name = "search"
urlpatterns = [
    path("", search_views.search_page, name="index"),
    path("bible-status/", search_views.bible_status_fragment, name="bible-status"),
]
