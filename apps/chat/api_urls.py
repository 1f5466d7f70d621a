from django.urls import path

from apps.chat import api, digest_api

urlpatterns = [
    path("personas/", api.PersonaListView.as_view(), name="api-chat-personas"),
    path("conversations/", api.ConversationListView.as_view(), name="api-chat-conversations"),
    path("conversations/<uuid:pk>/", api.ConversationDetailView.as_view(), name="api-chat-conversation"),
    path("conversations/<uuid:pk>/messages/", api.AskView.as_view(), name="api-chat-messages"),
]

# Digests: whole-document questions (apps/chat/digest_api.py).
urlpatterns += [
    path("conversations/<uuid:pk>/digests/", digest_api.DigestListView.as_view(), name="api-chat-digests"),
    path(
        "conversations/<uuid:pk>/digests/estimate/",
        digest_api.DigestEstimateView.as_view(),
        name="api-chat-digest-estimate",
    ),
    path(
        "conversations/<uuid:pk>/digests/<uuid:digest_id>/",
        digest_api.DigestDetailView.as_view(),
        name="api-chat-digest",
    ),
]
