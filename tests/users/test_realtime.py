"""The events of users, typed once (apps/users/realtime.py): /ws/events/'s hello, and the
account.revoked message the services put on the user's group (through the real channel layer)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections

from apps.users import realtime
from apps.users.models import User
from apps.users.services import user_suspend
from tests.events import assert_event
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _close_db_connections():
    yield
    connections.close_all()


def test_hello_and_account_revoked_match_their_types() -> None:
    user = UserFactory.build()
    hello = assert_event(realtime.hello(user), realtime.HelloEvent)
    assert hello["user"] == {
        "id": str(user.pk),
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
    }
    for reason in ("not_approved", "rights_changed"):
        assert assert_event(realtime.account_revoked(reason), realtime.AccountRevokedEvent)["reason"] == reason


async def test_a_suspension_puts_a_typed_account_revoked_on_the_users_group() -> None:
    user = await sync_to_async(UserFactory)()
    admin = await sync_to_async(UserFactory)(role=User.Role.ADMIN)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.user_group(user.pk), channel)
    try:
        await sync_to_async(user_suspend)(user=user, actor=admin, reason="Spam")
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(realtime.user_group(user.pk), channel)
    assert assert_event(message, realtime.AccountRevokedEvent) == {"type": "account.revoked", "reason": "not_approved"}
