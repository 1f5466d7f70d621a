"""WebSocket routes; every consumer sits behind WebSocketAuthMiddleware (theo/asgi.py)."""

from django.urls import path

from apps.chat.consumers import ChatConsumer
from apps.documents.consumers import DocumentRoomConsumer
from apps.users.consumers import UserEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", UserEventsConsumer.as_asgi()),
    path("ws/documents/<uuid:document_id>/", DocumentRoomConsumer.as_asgi()),
    path("ws/chat/<uuid:conversation_id>/", ChatConsumer.as_asgi()),
]
