from django.urls import path

from apps.users import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("register/", views.register_view, name="register"),
    path("pending/", views.pending_view, name="pending"),
    path("logout/", views.logout_view, name="logout"),
]
