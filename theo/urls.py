from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.core.api import AuditEventListView
from apps.users import views as user_views
from apps.users.api_urls import admin_urlpatterns, auth_urlpatterns

api_v1 = [
    path("auth/", include(auth_urlpatterns)),
    path("admin/users/", include(admin_urlpatterns)),
    path("audit/", AuditEventListView.as_view(), name="api-audit"),
    path("documents/", include("apps.documents.api_urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("apps.users.urls")),
    path("documents/", include("apps.documents.urls")),
    path("admin/login/", user_views.admin_login_view),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", core_views.api_not_found),
    path("health", core_views.health_status, name="health"),
    path("health/live", core_views.health_live, name="health-live"),
    path("health/ready", core_views.health_ready, name="health-ready"),
    path("", include("django_prometheus.urls")),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
