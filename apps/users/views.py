"""Account pages: sign in, register, the awaiting-approval page, sign out."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.errors import Conflict, PermissionDenied, RateLimited, ValidationFailed
from apps.core.pages import add_form_errors, forbidden_page
from apps.core.proxies import client_address
from apps.users import services
from apps.users.forms import LoginForm, RegisterForm

ACCOUNT_NOTICE = "account_notice"  # session key: the status shown on /accounts/pending/


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_authenticate(**form.cleaned_data, ip=client_address(request))
        except services.AccountNotApproved as exc:
            request.session[ACCOUNT_NOTICE] = {"status": exc.status, "reason": exc.reason}
            return redirect("pending")
        except services.InvalidCredentials as exc:
            form.add_error(None, exc.message)
            status = 400
        except RateLimited as exc:
            form.add_error(None, exc.message)
            status = 429
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request))
    elif request.method == "POST":
        status = 400
    return render(request, "users/login.html", {"form": form, "next": _safe_next(request)}, status=status)


@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                display_name=form.cleaned_data["display_name"],
                ip=client_address(request),
            )
        except (ValidationFailed, Conflict) as exc:
            add_form_errors(form, exc)
            status = 400
        except RateLimited as exc:
            form.add_error(None, exc.message)
            status = 429
        else:
            request.session[ACCOUNT_NOTICE] = {"status": "pending", "reason": "", "registered": True}
            return redirect("pending")
    elif request.method == "POST":
        status = 400
    return render(request, "users/register.html", {"form": form}, status=status)


def pending_view(request: HttpRequest) -> HttpResponse:
    notice = request.session.get(ACCOUNT_NOTICE) or {"status": "pending", "reason": ""}
    return render(request, "users/pending.html", {"notice": notice})


def admin_login_view(request: HttpRequest) -> HttpResponse:
    """The admin signs in through the one sign-in page (rate limits, approval, audit)."""
    if request.user.is_authenticated and not request.user.is_staff:
        return forbidden_page(request, PermissionDenied("Staff only."))
    target = request.GET.get("next") or "/admin/"
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("login")
