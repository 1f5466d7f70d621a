from django.urls import path

from apps.chat import api

urlpatterns = [
    path("personas/", api.PersonaListView.as_view(), name="api-chat-personas"),
    path("conversations/", api.ConversationListView.as_view(), name="api-chat-conversations"),
    path("conversations/<uuid:pk>/", api.ConversationDetailView.as_view(), name="api-chat-conversation"),
    path("conversations/<uuid:pk>/messages/", api.AskView.as_view(), name="api-chat-messages"),
]
