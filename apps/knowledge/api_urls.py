from django.urls import path

from apps.knowledge import api

urlpatterns = [
    path("entries/", api.EntryListView.as_view(), name="api-knowledge-entries"),
    path("entries/<uuid:pk>/", api.EntryDetailView.as_view(), name="api-knowledge-entry"),
    path("entries/<uuid:pk>/approve/", api.EntryApproveView.as_view(), name="api-knowledge-entry-approve"),
    path("entries/<uuid:pk>/reject/", api.EntryRejectView.as_view(), name="api-knowledge-entry-reject"),
]
