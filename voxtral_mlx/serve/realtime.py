"""``/v1/realtime``: one WebSocket connection speaking vLLM's realtime protocol
(docs/realtime-protocol.md) over a :class:`~voxtral_mlx.serve.hub.StreamHub` stream.

Two tasks per connection: the reader parses client messages (``ConnectionState``) and feeds
the utterance's stream; the writer sends what the hub produced. The hub's thread never waits
for a client: its events cross into this connection's event loop through a bounded queue, and
a client that does not read them (the queue full) is told ``client_too_slow`` and closed.
A client that sends audio faster than it is transcribed is slowed, not dropped: the reader
stops reading while the stream holds more than ``max_queued_seconds`` (TCP flow control then
slows its sends; vLLM's file client sends a whole file at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from starlette.websockets import WebSocket, WebSocketDisconnect

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import SAMPLE_RATE
from voxtral_mlx.serve.hub import StreamHub, StreamsFull
from voxtral_mlx.serve.protocol import (
    ErrorCode,
    dumps,
    error_event,
    session_created,
    transcription_delta,
    transcription_done,
)
from voxtral_mlx.serve.protocol_session import (
    ConnectionState,
    FeedAudio,
    FinishUtterance,
    Reply,
    StartUtterance,
)

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is full
POLICY = 1008  # WebSocket close code: refused (a wrong API key)


@dataclass
class Limits:
    """Per-connection bounds: events waiting for a slow reader, audio waiting for the model."""

    max_events: int = 2048
    max_queued_seconds: float = 10.0
    idle_seconds: float = 600.0  # a connection that sends nothing this long is closed


class Connection:
    """One client. :meth:`run` until it closes."""

    def __init__(self, ws: WebSocket, hub: StreamHub, served: set[str], limits: Limits):
        self.ws, self.hub, self.limits = ws, hub, limits
        self.state = ConnectionState(served)
        self.loop = asyncio.get_running_loop()
        self.out: asyncio.Queue = asyncio.Queue(limits.max_events)
        self.stream = None  # the open utterance's hub stream
        self.text, self.steps = "", 0
        self.closing = False

    async def run(self) -> None:
        # Ours also says the delay its streams are decoded at (an extra field vLLM's clients
        # ignore): a client's transcript then records the delay really used.
        await self.ws.send_text(dumps({**session_created(), "delay_ms": self.hub.delay_ms}))
        writer = asyncio.create_task(self._write())
        try:
            await self._read()
        except WebSocketDisconnect:
            pass
        finally:
            self.closing = True
            if self.stream is not None:
                self.stream.cancel()  # its rows leave the batch at the hub's next turn
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def _read(self) -> None:
        while not self.closing:
            try:
                message = await asyncio.wait_for(self.ws.receive(), self.limits.idle_seconds)
            except TimeoutError:
                await self._close(1000, "idle")
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # a binary frame: vLLM's reader would end the connection
                await self._send(error_event("send JSON text frames, not binary ones", ErrorCode.INVALID_JSON))  # fmt: skip
                continue
            for action in self.state.handle_message(text):
                await self._act(action)

    async def _act(self, action) -> None:
        if isinstance(action, Reply):
            await self._send(action.event)
        elif isinstance(action, StartUtterance):
            self._open()
        elif isinstance(action, FeedAudio) and self.stream is not None:
            limit = self.limits.max_queued_seconds * SAMPLE_RATE
            while self.stream.queued > limit and not self.closing:
                await asyncio.sleep(0.01)  # backpressure: the client waits, nobody else does
            self.stream.append(action.samples)
        elif isinstance(action, FinishUtterance) and self.stream is not None:
            self.stream.finish()

    def _open(self) -> None:
        self.text, self.steps = "", 0
        try:
            self.stream = self.hub.open(self._from_hub)
        except StreamsFull as err:
            self._queue(("error", str(err), ErrorCode.TOO_MANY_STREAMS))
        except VoxtralError as err:
            self._queue(("error", str(err), ErrorCode.PROCESSING_ERROR))

    # ---- the hub's thread -------------------------------------------------------------------
    def _from_hub(self, kind: str, payload) -> None:
        self.loop.call_soon_threadsafe(self._queue, (kind, payload, None))

    # ---- the event loop ---------------------------------------------------------------------
    def _queue(self, item) -> None:
        if self.closing:
            return
        try:
            self.out.put_nowait(item)
        except asyncio.QueueFull:  # it does not read what it is sent: it must not grow memory
            self.closing = True
            if self.stream is not None:
                self.stream.cancel()
            asyncio.ensure_future(self._too_slow())

    async def _too_slow(self) -> None:
        """Tell it (if it takes the message within a second: it may read nothing at all) and
        close; neither may hang the connection's tasks."""
        message = "the client does not read its events fast enough: closed"
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.send_text(dumps(error_event(message, ErrorCode.CLIENT_TOO_SLOW))), 1.0)  # fmt: skip
        await self._close(1008, "client too slow")

    async def _write(self) -> None:
        while True:
            kind, payload, code = await self.out.get()
            if kind == "tokens":
                # One delta per decoder step, empty ones too, as vLLM sends them: the k-th
                # delta describes the audio from k x 80 ms, so a client can time its words.
                for event in payload:
                    self.steps += 1
                    self.text += event.text
                    await self._send(transcription_delta(event.text, event))
            elif kind == "done":
                prompt = len(self.hub.prompt) if self.hub.prompt else 0
                await self._send(transcription_done(self.text, prompt, self.steps))
                self.stream = None
                self.state.utterance_done()
            else:  # the stream was refused or dropped (too fast, the server stopping)
                self.stream = None
                await self._send(error_event(payload, code or ErrorCode.PROCESSING_ERROR))
                if code == ErrorCode.TOO_MANY_STREAMS:
                    await self._close(TRY_AGAIN_LATER, "server full")
                    return
                self.state.utterance_done()

    async def _send(self, event: dict) -> None:
        with contextlib.suppress(Exception):  # a vanished client: the reader sees it
            await self.ws.send_text(dumps(event))

    async def _close(self, code: int, reason: str) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), 2.0)


__all__ = ["Connection", "Limits"]
