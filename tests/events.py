"""Every event a client receives, checked against the TypedDict that defines it (the
`realtime.py` modules): the type is a known one, every required key is there, no key is
unknown, and each value has its declared type. The socket and stream readers of the tests
(tests/websockets.py, tests/integration/live.py, the SSE readers) pass every frame here.

`from __future__ import annotations` leaves `__required_keys__` blind to NotRequired (the
annotations are strings when the class is made), so the keys are read from the resolved hints.
"""

from __future__ import annotations

import types
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

from apps.chat import realtime as chat_realtime
from apps.core import realtime as core_realtime
from apps.documents import realtime as documents_realtime
from apps.users import realtime as users_realtime

EVENT_TYPES: tuple[type, ...] = (
    core_realtime.PongEvent,
    core_realtime.ErrorEvent,
    users_realtime.HelloEvent,
    users_realtime.AccountRevokedEvent,
    documents_realtime.ProgressEvent,
    documents_realtime.StageEvent,
    documents_realtime.EndedEvent,
    documents_realtime.DeletedEvent,
    documents_realtime.AccessRevokedEvent,
    documents_realtime.PresenceListEvent,
    documents_realtime.PresenceEvent,
    documents_realtime.NoteEvent,
    documents_realtime.GroupMessage,
    chat_realtime.DeltaEvent,
    chat_realtime.CitationsEvent,
    chat_realtime.DoneEvent,
    chat_realtime.DigestProgressEvent,
    chat_realtime.DigestDoneEvent,
    chat_realtime.DigestFailedEvent,
    chat_realtime.DigestGroupMessage,
)


def _by_type() -> dict[str, type]:
    """The TypedDict of each `type` value; a value claimed twice is a mistake in the modules."""
    found: dict[str, type] = {}
    for cls in EVENT_TYPES:
        for name in get_args(get_type_hints(cls)["type"]):
            assert name not in found, f"{name!r} is defined by {found[name].__name__} and {cls.__name__}"
            found[name] = cls
    return found


BY_TYPE = _by_type()


def _keys(cls: type) -> tuple[dict[str, Any], set[str]]:
    """(annotation of each key, the required keys) of a TypedDict."""
    hints = get_type_hints(cls, include_extras=True)
    annotations, required = {}, set()
    for key, hint in hints.items():
        origin = get_origin(hint)
        if origin is NotRequired or origin is Required:
            (annotations[key],) = get_args(hint)
        else:
            annotations[key] = hint
        if origin is Required or (origin is not NotRequired and cls.__total__):  # type: ignore[attr-defined]
            required.add(key)
    return annotations, required


def problems(value: Any, annotation: Any, where: str = "event") -> list[str]:
    """What is wrong with `value` (decoded JSON) as an `annotation`; [] when nothing."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return []
    if is_typeddict(annotation):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object ({annotation.__name__})"]
        fields, required = _keys(annotation)
        found = [f"{where}: {key!r} is missing ({annotation.__name__})" for key in sorted(required - set(value))]
        found += [f"{where}: {key!r} is not a key of {annotation.__name__}" for key in sorted(set(value) - set(fields))]
        for key in sorted(set(value) & set(fields)):
            found += problems(value[key], fields[key], f"{where}.{key}")
        return found
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin is Union or origin is types.UnionType:
        if any(not problems(value, arm, where) for arm in args):
            return []
        return [f"{where}: {value!r} is none of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [problem for i, item in enumerate(value) for problem in problems(item, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        return [problem for key, item in value.items() for problem in problems(item, args[1], f"{where}.{key}")]
    return _scalar_problems(value, annotation, where)


def _scalar_problems(value: Any, annotation: Any, where: str) -> list[str]:
    if annotation is None or annotation is type(None):
        ok = value is None
    elif annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(annotation, type):
        ok = isinstance(value, annotation)
    else:
        raise TypeError(f"{where}: the checker does not know {annotation!r}")
    return [] if ok else [f"{where}: {value!r} is not {getattr(annotation, '__name__', annotation)}"]


def assert_event(event: Any, expected: type | None = None) -> Any:
    """`event` is a well-formed event of its `type` (of `expected` when given); returns it."""
    assert isinstance(event, dict) and isinstance(event.get("type"), str), f"not an event: {event!r}"
    cls = BY_TYPE.get(event["type"])
    assert cls is not None, f"no TypedDict defines events of type {event['type']!r}: {event!r}"
    if expected is not None:
        assert cls is expected, f"{event!r} is a {cls.__name__}, not a {expected.__name__}"
    found = problems(event, cls)
    assert not found, "; ".join(found)
    return event
