from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.bible import api as bible_api
from apps.chat import api as chat_api
from apps.chat import views as chat_views
from apps.core import views as core_views
from apps.core.api import AuditEventListView
from apps.documents import admin_jobs
from apps.users import views as user_views
from apps.users.api_urls import admin_urlpatterns, auth_urlpatterns

api_v1: list[URLPattern | URLResolver] = [
    path("auth/", include(auth_urlpatterns)),
    path("admin/users/", include(admin_urlpatterns)),
    path("audit/", AuditEventListView.as_view(), name="api-audit"),
    path("documents/", include("apps.documents.api_urls")),
    path("knowledge/", include("apps.knowledge.api_urls")),
    path("chat/", include("apps.chat.api_urls")),
    path("usage/", chat_api.UsageView.as_view(), name="api-usage"),
    path("search/", bible_api.SearchView.as_view(), name="api-search"),
    path("scripture/", bible_api.ScriptureView.as_view(), name="api-scripture"),
    path("scripture/status/", bible_api.BibleStatusView.as_view(), name="api-scripture-status"),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("apps.users.urls")),
    path("documents/", include("apps.documents.urls")),
    path("knowledge/", include("apps.knowledge.urls")),
    path("chat/", include("apps.chat.urls")),
    path("usage/", chat_views.usage_page, name="usage"),
    path("search/", include("apps.bible.search_urls")),
    path("scripture/", include("apps.bible.urls")),
    path("admin/login/", user_views.admin_login_view),
    path("admin/jobs/", admin.site.admin_view(admin_jobs.jobs_page), name="admin-jobs"),
    path("admin/jobs/<uuid:pk>/retry/", admin.site.admin_view(admin_jobs.job_retry), name="admin-jobs-retry"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", core_views.api_not_found),
    path("health", core_views.health_status, name="health"),
    path("health/live", core_views.health_live, name="health-live"),
    path("health/ready", core_views.health_ready, name="health-ready"),
    path("metrics", core_views.metrics, name="prometheus-django-metrics"),  # loopback or THEO_METRICS_TOKEN
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
