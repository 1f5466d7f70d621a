from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.core.home import capabilities_for


def theo(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    nav_items = capabilities_for(user) if user is not None else []
    return {"THEO_VERSION": settings.VERSION, "nav_items": nav_items}
