from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


def default_monthly_budget() -> Decimal:
    return Decimal(str(settings.DEFAULT_MONTHLY_BUDGET_USD)).quantize(Decimal("0.01"))


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        """`manage.py createsuperuser`: an approved admin who may use everything."""
        fields.pop("is_staff", None)
        fields.setdefault("role", User.Role.ADMIN)
        fields.setdefault("status", User.Status.APPROVED)
        fields.setdefault("is_superuser", True)
        fields.setdefault("display_name", email.split("@")[0])
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A Theo account: e-mail login, a role that decides what it may use, and an approval
    status. Only approved accounts can sign in, by any route."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        POWER = "power", "Power user"
        USER = "user", "User"
        GUEST = "guest", "Guest"

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("e-mail address", max_length=254, unique=True)  # stored lower-case
    display_name = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    denial_reason = models.TextField(blank=True)
    monthly_budget_usd = models.DecimalField(
        "monthly AI budget (USD)", max_digits=10, decimal_places=2, default=default_monthly_budget
    )
    date_joined = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        ordering = ["-date_joined"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "power", "user", "guest"]), name="users_user_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "denied", "suspended"]),
                name="users_user_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(monthly_budget_usd__gte=0), name="users_user_budget_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    # Django's auth checks is_active (session users, ModelBackend, admin): only approved
    # accounts are active, so no route lets a pending, denied or suspended account in.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == self.Status.APPROVED

    @property
    def is_staff(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def is_guest(self) -> bool:
        return self.role == self.Role.GUEST

    # The role is the permission system: an approved admin may do everything in the admin.
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_active and self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_staff

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email
