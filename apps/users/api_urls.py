from django.urls import path

from apps.users import api

auth_urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="api-register"),
    path("token/", api.TokenObtainView.as_view(), name="api-token"),
    path("token/refresh/", api.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("logout/", api.LogoutView.as_view(), name="api-logout"),
    path("me/", api.MeView.as_view(), name="api-me"),
]

admin_urlpatterns = [
    path("", api.AdminUserListView.as_view(), name="api-admin-users"),
    path("<uuid:pk>/", api.AdminUserDetailView.as_view(), name="api-admin-user"),
    path("<uuid:pk>/approve/", api.AdminUserApproveView.as_view(), name="api-admin-user-approve"),
    path("<uuid:pk>/deny/", api.AdminUserDenyView.as_view(), name="api-admin-user-deny"),
    path("<uuid:pk>/suspend/", api.AdminUserSuspendView.as_view(), name="api-admin-user-suspend"),
]
