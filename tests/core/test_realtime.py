"""Events are typed once: the frames every socket shares (pong, error), the checker the
socket and stream tests pass every received event through, and a guard that no event is
built inline outside the `realtime.py` modules."""

from __future__ import annotations

import ast
import inspect
import pathlib
from typing import Literal, get_origin, get_type_hints, is_typeddict

import pytest
from django.conf import settings

from apps.chat import realtime as chat_realtime
from apps.core import realtime
from apps.documents import realtime as documents_realtime
from apps.users import realtime as users_realtime
from tests.events import BY_TYPE, EVENT_TYPES, assert_event, problems


def test_pong_and_error_match_their_types() -> None:
    assert assert_event(realtime.pong(), realtime.PongEvent) == {"type": "pong"}
    assert assert_event(realtime.error("busy", "Wait."), realtime.ErrorEvent) == {
        "type": "error",
        "code": "busy",
        "message": "Wait.",
    }
    limited = assert_event(realtime.error("rate_limited", "Slow down.", retry_after=30), realtime.ErrorEvent)
    assert limited["retry_after"] == 30


def test_chat_shares_the_error_frame_of_every_socket() -> None:
    assert chat_realtime.error is realtime.error
    assert chat_realtime.ErrorEvent is realtime.ErrorEvent


def test_close_codes_are_ones_daphne_can_send() -> None:
    codes = [value for name, value in vars(realtime).items() if name.startswith("CLOSE_")]
    assert len(codes) == len(set(codes)) == 6
    assert all(3000 <= code <= 4999 for code in codes)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"type": "pong", "extra": 1}, "'extra' is not a key of PongEvent"),
        ({"type": "error", "code": "x"}, "'message' is missing"),
        ({"type": "error", "code": 1, "message": "m"}, "event.code: 1 is not str"),
        ({"type": "error", "code": "x", "message": "m", "retry_after": True}, "True is not int"),
        ({"type": "user.arrived", "user": {"id": "1", "display_name": "A"}}, "no TypedDict defines"),
        ({"type": "user.joined", "user": {"id": "1"}}, "event.user: 'display_name' is missing"),
        ({"type": "presence", "document_id": "d", "users": [{"id": 1, "display_name": "A"}], "count": 1}, "users[0]"),
        ({"type": "note.created", "note": {}}, "'body' is missing"),
        ({"type": "ended", "document_id": "d", "reason": "bored", "message": "m"}, "'bored' is not one of"),
    ],
)
def test_the_checker_refuses_malformed_events(event: dict, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem.replace("[", r"\[")):
        assert_event(event)


def test_the_checker_reads_optional_keys_and_nested_unions() -> None:
    item = {"n": 1, "source_kind": None, "title": "t", "page_start": None, "quote": "", "verified": False, "url": None}
    assert problems(item, chat_realtime.CitationItem) == []
    assert problems({**item, "entry_id": "e"}, chat_realtime.CitationItem) == []
    assert problems({**item, "page_start": "1"}, chat_realtime.CitationItem) != []


def test_every_event_type_of_the_realtime_modules_is_checked() -> None:
    """A new event TypedDict is known to the checker (tests/events.py EVENT_TYPES)."""
    for module in (realtime, users_realtime, documents_realtime, chat_realtime):
        for _name, cls in inspect.getmembers(module, is_typeddict):
            kind = get_type_hints(cls).get("type")
            if kind is not None and get_origin(kind) is Literal:
                assert cls in EVENT_TYPES, f"{cls.__name__} is missing from tests/events.py"
    assert {"pong", "error", "hello", "progress", "user.joined", "user.left", "note.created", "deleted"} <= set(BY_TYPE)


EVENT_SENDERS = {"send_json", "group_send", "broadcast", "sse_frame"}


def test_no_event_is_built_inline() -> None:
    """Every event sent comes from its constructor in a realtime.py module, never a dict
    literal at the call that sends it."""
    inline = []
    for path in sorted(pathlib.Path(settings.BASE_DIR, "apps").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if name in EVENT_SENDERS and any(isinstance(argument, ast.Dict) for argument in arguments):
                inline.append(f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    assert inline == []
