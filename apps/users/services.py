"""Account services: registration, sign-in, approval, roles and budgets.

Every route (pages, API, admin) goes through these functions, so each rule and each
audit event lives in one place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.core.errors import Conflict, PermissionDenied, TheoError, ValidationFailed
from apps.core.ratelimits import address_group, enforce_rate_limit
from apps.core.services import audit_record
from apps.users import realtime, throttle
from apps.users.models import User

logger = structlog.get_logger(__name__)


class InvalidCredentials(TheoError):
    status_code = 401
    code = "invalid_credentials"
    message = "That e-mail address and password do not match an account."


class AccountNotApproved(PermissionDenied):
    """A correct password for an account that may not sign in (yet)."""

    MESSAGES: dict[str, str] = {
        User.Status.PENDING: "Your account is awaiting approval by a staff member.",
        User.Status.DENIED: "Your registration was denied.",
        User.Status.SUSPENDED: "Your account is suspended.",
    }

    def __init__(self, user: User) -> None:
        self.status = user.status
        self.reason = user.denial_reason
        message = self.MESSAGES[user.status]
        if self.reason:
            message = f"{message} Reason: {self.reason}"
        super().__init__(message, code=f"account_{user.status}", details={"status": user.status, "reason": self.reason})


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(details={"password": list(exc.messages)}) from exc


def _save_new_account(user: User, password: str) -> User:
    """Validate and set the password, then insert; the e-mail constraint catches duplicates."""
    _validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        message = "An account with this e-mail address already exists."
        raise Conflict(message, code="email_taken", details={"email": [message]}) from exc
    return user


# --- registration and sign-in -------------------------------------------------------


def user_register(*, email: str, password: str, display_name: str = "", ip: str | None = None) -> User:
    """Create a pending account; staff approve it before it can sign in. `ip` (the client's
    address, "" if unknown) is rate limited; None means no request (a script)."""
    if ip is not None:
        enforce_rate_limit(
            scope="register",
            key=f"ip:{address_group(ip)}",
            message="Too many registrations from this address. Try again later.",
        )
    email = normalize_email(email)
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(details={"email": ["Enter a valid e-mail address."]}) from exc
    display_name = (display_name or "").strip() or email.split("@")[0]
    user = _save_new_account(User(email=email, display_name=display_name[:150]), password)
    audit_record(actor=None, action="user.register", target=user, data={"email": email})
    return user


def user_authenticate(*, email: str, password: str, ip: str) -> User:
    """Check a sign-in attempt (any route). Wrong passwords are throttled per account and
    address, per address and per account (apps.users.throttle); correct ones never count.

    Raises InvalidCredentials, AccountNotApproved (only after a correct password, so an
    account's status is never revealed to someone without it) or RateLimited.
    """
    email = normalize_email(email)
    throttle.signin_attempt(email=email, address=ip)  # counted as a failure until proven right
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        User().set_password(password)  # same work as a real check: no timing hint
        raise InvalidCredentials()
    if not user.check_password(password):
        audit_record(actor=None, action="user.login_failed", target=user, data={"ip": ip})
        raise InvalidCredentials()
    throttle.signin_succeeded(email=email, address=ip, remember=user.is_approved)
    if not user.is_approved:
        audit_record(actor=None, action="user.login_refused", target=user, data={"status": user.status})
        raise AccountNotApproved(user)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    audit_record(actor=user, action="user.login", target=user, data={"ip": ip})
    return user


# --- approval and administration ----------------------------------------------------


def _other_active_admins(user: User) -> bool:
    admins = User.objects.filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True), status=User.Status.APPROVED)
    return admins.exclude(pk=user.pk).exists()


ADMIN_CHANGES_LOCK = "SELECT pg_advisory_xact_lock(hashtext('theo.users.admin_changes'))"


def guard_last_admin(*, user: User, new_role: str, new_status: str) -> None:
    """Refuse a change that would leave no active admin. Call inside the transaction that
    makes the change: the advisory lock serialises concurrent admin changes, so two
    admins stepping down at once cannot both pass the check."""
    loses_admin = (
        user.is_staff
        and user.is_approved
        and (new_status != User.Status.APPROVED or (new_role != User.Role.ADMIN and not user.is_superuser))
    )
    if not loses_admin:
        return
    with connection.cursor() as cursor:
        cursor.execute(ADMIN_CHANGES_LOCK)
    if not _other_active_admins(user):
        raise Conflict("This is the last active admin; make another admin first.", code="last_admin")


def _revoke_sign_ins(user: User) -> None:
    """Outstanding refresh tokens are blacklisted and open WebSockets closed. Access tokens
    and sessions stop working on their next use because the account is no longer active."""
    tokens = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True)
    transaction.on_commit(lambda: realtime.send_account_revoked(user_id=user.pk))


def _reconnect_sockets(user: User) -> None:
    """Open WebSockets close (4000) once the change commits; clients reconnect and
    authenticate again, so no socket goes on with the rights it connected with."""
    user_id = user.pk
    transaction.on_commit(lambda: realtime.send_account_revoked(user_id=user_id, reason="rights_changed"))


def user_set_password(*, user: User, password: str, actor: User | None, request: HttpRequest | None = None) -> User:
    """The one place a password changes (reset, profile, admin): validated, audited, and
    the account's open sockets reconnect."""
    _validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _reconnect_sockets(user)
        audit_record(actor=actor, action="user.password_change", target=user, request=request)
    return user


def user_set_status(
    *, user: User, status: str, actor: User | None, reason: str = "", request: HttpRequest | None = None
) -> User:
    """Approve, deny, suspend or reinstate an account; the one place status changes."""
    if status not in User.Status.values:
        raise ValidationFailed(details={"status": [f"Must be one of: {', '.join(User.Status.values)}."]})
    reason = (reason or "").strip()
    if status == User.Status.DENIED and not reason:
        raise ValidationFailed(
            "Give a reason: the applicant sees it.", details={"reason": ["A reason is required to deny."]}
        )
    if actor is not None and actor.pk == user.pk and status != User.Status.APPROVED:
        raise PermissionDenied("You cannot deny or suspend your own account.", code="own_account")
    if status == user.status and reason == user.denial_reason:
        return user
    previous = user.status
    with transaction.atomic():
        guard_last_admin(user=user, new_role=user.role, new_status=status)
        user.status = status
        user.denial_reason = "" if status in (User.Status.APPROVED, User.Status.PENDING) else reason
        user.status_changed_at = timezone.now()
        user.save(update_fields=["status", "denial_reason", "status_changed_at"])
        if previous == User.Status.APPROVED and status != User.Status.APPROVED:
            _revoke_sign_ins(user)
        audit_record(
            actor=actor,
            action=f"user.{ACTION_FOR_STATUS[status]}",
            target=user,
            data={"from": previous, "to": status, "reason": user.denial_reason},
            request=request,
        )
    return user


ACTION_FOR_STATUS: dict[str, str] = {
    User.Status.APPROVED: "approve",
    User.Status.DENIED: "deny",
    User.Status.SUSPENDED: "suspend",
    User.Status.PENDING: "reset_to_pending",
}


def user_approve(*, user: User, actor: User | None, request: HttpRequest | None = None) -> User:
    return user_set_status(user=user, status=User.Status.APPROVED, actor=actor, request=request)


def user_deny(*, user: User, actor: User | None, reason: str, request: HttpRequest | None = None) -> User:
    return user_set_status(user=user, status=User.Status.DENIED, actor=actor, reason=reason, request=request)


def user_suspend(*, user: User, actor: User | None, reason: str = "", request: HttpRequest | None = None) -> User:
    return user_set_status(user=user, status=User.Status.SUSPENDED, actor=actor, reason=reason, request=request)


def user_update(
    *,
    user: User,
    actor: User | None,
    role: str | None = None,
    monthly_budget_usd: Decimal | None = None,
    display_name: str | None = None,
    status: str | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> User:
    """Staff edits: role, monthly AI budget, display name and (through user_set_status) status.
    All or nothing: one refused part leaves the account unchanged."""
    if role is not None and role not in User.Role.values:
        raise ValidationFailed(details={"role": [f"Must be one of: {', '.join(User.Role.values)}."]})
    if monthly_budget_usd is not None and Decimal(monthly_budget_usd) < 0:
        raise ValidationFailed(details={"monthly_budget_usd": ["Must be zero or more."]})
    changes: dict[str, Any] = {}
    with transaction.atomic():
        if role is not None and role != user.role:
            guard_last_admin(user=user, new_role=role, new_status=user.status)
            changes["role"] = (user.role, role)
            user.role = role
        if monthly_budget_usd is not None and Decimal(monthly_budget_usd) != user.monthly_budget_usd:
            changes["monthly_budget_usd"] = (str(user.monthly_budget_usd), str(monthly_budget_usd))
            user.monthly_budget_usd = Decimal(monthly_budget_usd)
        if display_name is not None and display_name.strip() and display_name.strip() != user.display_name:
            changes["display_name"] = (user.display_name, display_name.strip())
            user.display_name = display_name.strip()[:150]
        if changes:
            user.save(update_fields=[*changes])
            if "role" in changes:
                _reconnect_sockets(user)
            audit_record(
                actor=actor,
                action="user.update",
                target=user,
                data={field: {"from": old, "to": new} for field, (old, new) in changes.items()},
                request=request,
            )
        if status is not None:
            user_set_status(user=user, status=status, actor=actor, reason=reason, request=request)
    return user


def user_create_by_staff(
    *, email: str, password: str, display_name: str, role: str, actor: User, request: HttpRequest | None = None
) -> User:
    """An account created by staff is approved from the start."""
    user = User(email=normalize_email(email), display_name=display_name or email.split("@")[0], role=role)
    user.status = User.Status.APPROVED
    user.status_changed_at = timezone.now()
    _save_new_account(user, password)
    audit_record(actor=actor, action="user.create", target=user, data={"role": role}, request=request)
    return user


def user_delete(*, user: User, actor: User, request: HttpRequest | None = None) -> None:
    if actor.pk == user.pk:
        raise PermissionDenied("You cannot delete your own account here.", code="own_account")
    with transaction.atomic():
        guard_last_admin(user=user, new_role=User.Role.USER, new_status=User.Status.DENIED)
        audit_record(actor=actor, action="user.delete", target=user, data={"email": user.email}, request=request)
        user_id = user.pk
        user.delete()
        transaction.on_commit(lambda: realtime.send_account_revoked(user_id=user_id))


def user_sign_out(*, refresh_token: str, actor: User | None = None) -> None:
    """Blacklist a refresh token (API logout); raises InvalidToken for a bad one."""
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
    from rest_framework_simplejwt.tokens import RefreshToken

    try:
        token = RefreshToken(refresh_token)  # type: ignore[arg-type]  # simplejwt: str accepted, annotated Token
        token.blacklist()
    except TokenError as exc:
        raise InvalidToken(str(exc)) from exc
    user = User.objects.filter(pk=token.payload.get("user_id")).first()  # type: ignore[misc]  # None: no row
    if user is not None:
        audit_record(actor=user, action="user.logout", target=user)


def ensure_initial_admin(*, email: str, password: str) -> User | None:
    """Create the first admin from THEO_ADMIN_EMAIL / THEO_ADMIN_PASSWORD if absent.

    Race-safe: the case-insensitive unique constraint on e-mail means that of two
    processes starting together one creates the admin and the other finds it.
    """
    email = normalize_email(email)
    if not email or not password:
        return None
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            user = User.objects.create_superuser(email, password)
            audit_record(actor=None, action="user.create_initial_admin", target=user)
    except IntegrityError:
        return User.objects.filter(email__iexact=email).first()
    logger.info("initial_admin_created", email=email)
    return user


def flush_expired_tokens() -> None:
    call_command("flushexpiredtokens")
