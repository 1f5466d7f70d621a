"""ASGI entry point: HTTP through Django, WebSockets through Channels (see theo/routing.py)."""

import os

from django.core.asgi import get_asgi_application

from apps.core.embedded import ensure_services

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
ensure_services()  # the embedded PostgreSQL and Redis, and generated keys, before Django starts
# Set up Django before anything imports models (consumers, auth middleware).
django_asgi_app = get_asgi_application()

from apps.core.checks import refuse_to_start_with_weak_secrets  # noqa: E402

refuse_to_start_with_weak_secrets()

from apps.core.daphne import stop_twisted_form_parsing  # noqa: E402

stop_twisted_form_parsing()  # Django parses request bodies, not Twisted (apps/core/daphne.py)

from apps.index.embeddings import warm_up_in_background  # noqa: E402

warm_up_in_background()  # the first search should not wait for the model to load

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.users.websocket import WebSocketAuthMiddleware  # noqa: E402
from theo.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
