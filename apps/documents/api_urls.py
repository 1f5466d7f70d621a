from django.urls import path

from apps.documents import api

urlpatterns = [
    path("", api.DocumentListView.as_view(), name="api-documents"),
    path("<uuid:pk>/", api.DocumentDetailView.as_view(), name="api-document"),
    path("<uuid:pk>/file/", api.DocumentFileView.as_view(), name="api-document-file"),
    path("<uuid:pk>/progress/", api.DocumentProgressView.as_view(), name="api-document-progress"),
    path("<uuid:pk>/passages/", api.DocumentPassagesView.as_view(), name="api-document-passages"),
    path("<uuid:pk>/reprocess/", api.DocumentReprocessView.as_view(), name="api-document-reprocess"),
    path("<uuid:pk>/shares/", api.DocumentSharesView.as_view(), name="api-document-shares"),
    path("<uuid:pk>/notes/", api.DocumentNotesView.as_view(), name="api-document-notes"),
]
