"""The approval console: every change goes through apps.users.services (and is audited)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.core.admin_actions import apply_to_each, apply_with_reason
from apps.core.errors import TheoError
from apps.users import services
from apps.users.models import User
from apps.users.requests import AuthenticatedHttpRequest

admin.site.site_header = "Theo administration"
admin.site.site_title = "Theo admin"
admin.site.index_title = "Accounts, knowledge and operations"
admin.site.unregister(Group)  # roles, not groups, decide what an account may do


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "role", "monthly_budget_usd"]

    def clean_role(self) -> str:
        """Refuse here, on the form, what the service would refuse (e.g. the last admin)."""
        role = self.cleaned_data["role"]
        current = User.objects.get(pk=self.instance.pk)
        try:
            services.guard_last_admin(user=current, new_role=role, new_status=current.status)
        except TheoError as exc:
            raise forms.ValidationError(exc.message) from exc
        return role


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 10 characters.")

    class Meta:
        model = User
        fields = ["email", "display_name", "role", "password"]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=True,
        help_text="Shown to the applicant on the sign-in page.",
    )


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "display_name", "role", "status", "monthly_budget_usd", "date_joined", "last_login"]
    list_filter = ["status", "role"]
    search_fields = ["email", "display_name"]
    ordering = ["-date_joined"]
    readonly_fields = ["email", "status", "denial_reason", "status_changed_at", "date_joined", "last_login"]
    actions = ["approve", "deny", "suspend"]

    def get_form(self, request: HttpRequest, obj: User | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = UserChangeForm if obj is not None else UserCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: User | None = None) -> list[Any]:
        if obj is None:
            return ["email", "display_name", "role", "password"]
        return [
            "email",
            "display_name",
            "role",
            "monthly_budget_usd",
            "status",
            "denial_reason",
            "status_changed_at",
            "date_joined",
            "last_login",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                fresh = User.objects.get(pk=obj.pk)
                services.user_update(
                    user=fresh,
                    actor=cast(User, request.user),
                    role=data["role"],
                    monthly_budget_usd=data["monthly_budget_usd"],
                    display_name=data["display_name"],
                    request=request,
                )
            else:
                created = services.user_create_by_staff(
                    email=data["email"],
                    password=data["password"],
                    display_name=data["display_name"],
                    role=data["role"],
                    actor=cast(User, request.user),
                    request=request,
                )
                obj.pk = created.pk
        except TheoError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        try:
            services.user_delete(user=obj, actor=cast(User, request.user), request=request)
        except TheoError as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        apply_to_each(
            request,
            queryset,
            lambda u: services.user_delete(user=u, actor=cast(User, request.user), request=request),
            done="account(s) deleted",
        )

    @admin.action(description="Approve selected accounts")
    def approve(self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]) -> None:
        apply_to_each(
            request,
            queryset,
            lambda u: services.user_approve(user=u, actor=request.user, request=request),
            done="account(s) approved",
        )

    @admin.action(description="Deny selected accounts (with a reason)…")
    def deny(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self._with_reason(
            request, queryset, action="deny", title="Deny accounts", done="denied", service=services.user_deny
        )

    @admin.action(description="Suspend selected accounts…")
    def suspend(self, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        return self._with_reason(
            request,
            queryset,
            action="suspend",
            title="Suspend accounts",
            done="suspended",
            service=services.user_suspend,
        )

    def _with_reason(
        self, request: HttpRequest, queryset: QuerySet[User], *, action: str, title: str, done: str, service: Any
    ) -> HttpResponse | None:
        """Intermediate page asking for the reason, then the service for each account."""
        return apply_with_reason(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            action=action,
            title=title,
            change=lambda u, reason: service(user=u, actor=request.user, reason=reason, request=request),
            done=f"account(s) {done}",
            describe=lambda u: f"{u.email} ({u.get_status_display()})",
            template="admin/users/reason_action.html",
        )
