"""The channel layer on the real Redis: a socket that waits longer than redis-py's default
5 s read timeout (the layer blocks 5 s per read) must keep working."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer


async def test_a_receive_that_waits_past_five_seconds_still_gets_its_message():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("test-idle", channel)

    async def send_later():
        await asyncio.sleep(6.5)
        await layer.group_send("test-idle", {"type": "test.message", "text": "still here"})

    sender = asyncio.create_task(send_later())
    try:
        message = await asyncio.wait_for(layer.receive(channel), timeout=15)
    finally:
        await sender
        await layer.group_discard("test-idle", channel)
    assert message == {"type": "test.message", "text": "still here"}
