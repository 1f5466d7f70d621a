"""Account API: registration, tokens, the signed-in account, and staff user administration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.openapi import errors
from apps.core.pagination import StandardPagination, paginated
from apps.core.permissions import IsStaff
from apps.core.proxies import client_address
from apps.core.serializers import validated
from apps.users import selectors, services
from apps.users.models import User
from apps.users.requests import AuthenticatedRequest
from apps.users.serializers import (
    AdminUserSerializer,
    AdminUserUpdateSerializer,
    CredentialsSerializer,
    DenySerializer,
    ReasonSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from apps.users.tokens import token_refresh


class PublicAPIView(APIView):
    """No authentication (so no session CSRF) and no permission: sign-up and sign-in."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Keeps token errors 401 (DRF turns 401 into 403 when a view names no scheme).
        return 'Bearer realm="api"'


class RegisterView(PublicAPIView):
    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer, **errors(409, 429)})
    def post(self, request: Request) -> Response:
        data = validated(RegisterSerializer, request.data)
        user = services.user_register(**data, ip=client_address(request))
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(PublicAPIView):
    @extend_schema(request=CredentialsSerializer, responses={200: TokenPairSerializer, **errors(401, 403, 429)})
    def post(self, request: Request) -> Response:
        data = validated(CredentialsSerializer, request.data)
        user = services.user_authenticate(**data, ip=client_address(request))
        refresh = RefreshToken.for_user(user)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class TokenRefreshView(PublicAPIView):
    """Rotation with blacklist; of two concurrent refreshes of one token only one succeeds."""

    @extend_schema(request=RefreshTokenSerializer, responses={200: TokenPairSerializer, **errors(401, 403)})
    def post(self, request: Request) -> Response:
        data = validated(RefreshTokenSerializer, request.data)
        return Response(token_refresh(refresh_token=data["refresh"]))


class LogoutView(PublicAPIView):
    """Blacklists the refresh token; also ends the session when called from a signed-in page."""

    @extend_schema(request=RefreshTokenSerializer, responses={204: None, **errors(401)})
    def post(self, request: Request) -> Response:
        data = validated(RefreshTokenSerializer, request.data)
        services.user_sign_out(refresh_token=data["refresh"])
        if request._request.user.is_authenticated:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserSerializer, responses=UserSerializer)
    def patch(self, request: AuthenticatedRequest) -> Response:
        serializer = UserSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(
            user=request.user,
            actor=request.user,
            display_name=serializer.validated_data.get("display_name"),
            request=request._request,
        )
        return Response(UserSerializer(user).data)


# --- staff: user administration -----------------------------------------------------


class AdminUserListView(APIView):
    permission_classes = [IsStaff]
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=User.Status.values),
            OpenApiParameter("role", str, enum=User.Role.values),
            OpenApiParameter("q", str, description="Part of an e-mail address or display name"),
        ],
        responses=AdminUserSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        users = selectors.users_list(
            status=request.query_params.get("status"),
            role=request.query_params.get("role"),
            q=request.query_params.get("q"),
        )
        return paginated(request, self, users, AdminUserSerializer)


# Staff act on one account; the answer is the account as staff see it. (A comment, not a
# docstring: drf-spectacular would make a docstring every subclass's operation description.)
class StaffUserView(APIView):
    permission_classes = [IsStaff]

    def change(
        self, request: AuthenticatedRequest, pk: Any, service: Callable[..., User], body: type | None = None
    ) -> Response:
        """Run `service` on the account with the fields of `body` (a serializer), if any."""
        user = selectors.user_get(pk=pk)  # 404 before complaining about the body
        data = validated(body, request.data) if body is not None else {}
        return Response(
            AdminUserSerializer(service(user=user, actor=request.user, request=request._request, **data)).data
        )


class AdminUserDetailView(StaffUserView):
    @extend_schema(responses=AdminUserSerializer)
    def get(self, request: Request, pk: Any) -> Response:
        return Response(AdminUserSerializer(selectors.user_get(pk=pk)).data)

    @extend_schema(request=AdminUserUpdateSerializer, responses=AdminUserSerializer)
    def patch(self, request: AuthenticatedRequest, pk: Any) -> Response:
        return self.change(request, pk, services.user_update, AdminUserUpdateSerializer)


class AdminUserApproveView(StaffUserView):
    @extend_schema(request=None, responses=AdminUserSerializer)
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        return self.change(request, pk, services.user_approve)


class AdminUserDenyView(StaffUserView):
    @extend_schema(request=DenySerializer, responses=AdminUserSerializer)
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        return self.change(request, pk, services.user_deny, DenySerializer)


class AdminUserSuspendView(StaffUserView):
    @extend_schema(request=ReasonSerializer, responses=AdminUserSerializer)
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        return self.change(request, pk, services.user_suspend, ReasonSerializer)
