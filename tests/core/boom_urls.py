"""A test-only URLconf: Theo's URLs plus views that fail with an unhandled exception."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from theo import urls as theo_urls

SECRET_DETAIL = "internal detail that must never reach the client"


class BoomView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("api/v1/boom/", BoomView.as_view()),
    path("api/v1/plain-boom/", plain_boom),
    path("plain-boom/", plain_boom),
    path("", include(theo_urls)),
]

# Error handlers are looked up on the root URLconf: use Theo's.
handler400 = theo_urls.handler400
handler403 = theo_urls.handler403
handler404 = theo_urls.handler404
handler500 = theo_urls.handler500
