"""apps.core.pages: domain errors raised by a page view become the error pages, and a
service's refusal lands on the form's fields."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from apps.core.pages import add_form_errors, error_pages


@error_pages()
def raising(request: HttpRequest, exc: Exception | None = None) -> HttpResponse:
    if exc is not None:
        raise exc
    return HttpResponse("fine")


def call(view: Any, exc: Exception | None) -> HttpResponse:
    request = RequestFactory().get("/somewhere/")
    return view(request, exc)


def test_a_page_that_raises_not_found_answers_the_404_page():
    response = call(raising, NotFound("No such thing."))
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_page_that_raises_permission_denied_answers_the_403_page():
    response = call(raising, PermissionDenied("Only the owner may do this."))
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_an_app_may_answer_denials_its_own_way():
    @error_pages(denied=lambda request, exc: HttpResponse(exc.message, status=403))
    def view(request: HttpRequest, exc: Exception | None = None) -> HttpResponse:
        return raising.__wrapped__(request, exc)

    response = call(view, PermissionDenied("Not you."))
    assert (response.status_code, response.content) == (403, b"Not you.")


def test_other_errors_and_answers_pass_through():
    assert call(raising, None).content == b"fine"
    with pytest.raises(Conflict):
        call(raising, Conflict("Taken."))


class NameForm(forms.Form):
    name = forms.CharField()


def test_service_errors_go_on_their_fields_or_on_the_form():
    form = NameForm({"name": "x"})
    assert form.is_valid()
    add_form_errors(form, ValidationFailed(details={"name": ["Taken."], "elsewhere": ["Try again."]}))
    assert form.errors == {"name": ["Taken."], "__all__": ["Try again."]}

    bare = NameForm({"name": "x"})
    assert bare.is_valid()
    add_form_errors(bare, Conflict("This conflicts."))
    assert bare.errors == {"__all__": ["This conflicts."]}
