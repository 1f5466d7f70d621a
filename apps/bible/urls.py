from django.urls import path

from apps.bible import views

app_name = "scripture"
urlpatterns = [path("", views.scripture_page, name="read")]
