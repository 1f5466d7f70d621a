"""Daphne (Twisted) must hand every request body to Django untouched.

Twisted's `http.Request` parses multipart and urlencoded POST bodies into `request.args`
before daphne sees them, which daphne never reads: a malformed multipart body (no parts,
a bad boundary) is answered there with a bare 400 (no JSON, no X-Request-ID), and a 50 MB
upload is parsed twice. Twisted has a switch for it (`parsePOSTFormSubmission`); daphne
does not pass it, so theo/asgi.py turns it off here, in the daphne process.
"""

from __future__ import annotations

from typing import Any


def stop_twisted_form_parsing() -> None:
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by something else than daphne
        return
    if getattr(WebRequest, "_theo_form_parsing_off", False):
        return
    original_init = WebRequest.__init__

    def init_without_form_parsing(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        original_init(self, *args, **kwargs)

    WebRequest.__init__ = init_without_form_parsing
    WebRequest._theo_form_parsing_off = True
