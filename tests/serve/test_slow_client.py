"""A client that does not read what it is sent is told and closed once its bounded event queue
is full, and its stream is cancelled: the hub's thread never waits for it (it only hands
events over)."""

from __future__ import annotations

import asyncio
import json
import threading

from voxtral_mlx.serve.realtime import Connection, Limits
from voxtral_mlx.text.transcript import TokenEvent

UPDATE = json.dumps({"type": "session.update", "model": ""})


class StuckSocket:
    """Accepts the first message, then every send hangs (a client that stopped reading)."""

    def __init__(self, incoming: list[str]):
        self.incoming, self.sent, self.closed = list(incoming), [], None
        self.headers = {}

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        if len(self.sent) > 1:
            await asyncio.Event().wait()  # never returns

    async def receive(self) -> dict:
        if self.incoming:
            return {"type": "websocket.receive", "text": self.incoming.pop(0)}
        await asyncio.sleep(3600)
        return {"type": "websocket.disconnect"}

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code


class Stream:
    def __init__(self):
        self.cancelled, self.queued = False, 0

    def append(self, samples) -> None: ...

    def finish(self) -> None: ...

    def cancel(self) -> None:
        self.cancelled = True


class Hub:
    prompt, max_streams, active, error, delay_ms = [1] * 39, 4, 0, None, 480

    def open(self, on_event):
        self.on_event, self.stream = on_event, Stream()
        return self.stream


def test_a_client_that_does_not_read_is_told_and_closed():
    async def scenario():
        ws, hub = StuckSocket([UPDATE, '{"type": "input_audio_buffer.commit"}']), Hub()
        connection = Connection(ws, hub, {""}, Limits(max_events=8))
        task = asyncio.create_task(connection.run())
        for _ in range(500):  # a connection that failed must fail the test, not hang it
            if hasattr(hub, "on_event") or task.done():
                break
            await asyncio.sleep(0.01)
        assert hasattr(hub, "on_event"), task.exception() if task.done() else "no stream opened"

        def flood():  # the hub's thread: hands events over, never waits
            for k in range(200):
                hub.on_event("tokens", [TokenEvent(40 + k % 9, " w", k * 0.08, k * 0.08 + 0.08)])

        sender = threading.Thread(target=flood)
        sender.start()
        sender.join(5)
        assert not sender.is_alive()  # it did not wait for the client
        for _ in range(200):
            if ws.closed is not None:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        return ws, hub

    ws, hub = asyncio.run(scenario())
    assert hub.stream.cancelled and ws.closed == 1008
