"""The server's ASGI app (Starlette): ``/v1/realtime`` (WebSocket), ``POST
/v1/audio/transcriptions``, ``GET /v1/models``, ``GET /health``, all on one StreamHub.

Why Starlette and uvicorn: the ASGI pair vLLM's own server runs on (FastAPI is Starlette), so
WebSocket frames, HTTP, multipart uploads (python-multipart) and their limits behave as a vLLM
client expects, and nothing below HTTP is ours. The API key, when set, is checked on every
``/v1`` path, the WebSocket included (``Authorization: Bearer KEY``); ``/health`` is open.

A file upload is spooled to a private temporary file, decoded in blocks as the command line
decodes files, and transcribed as one more stream of the hub (so it is exactly the CLI's
transcript for the same file and delay); it waits for the model like any stream.
"""

from __future__ import annotations

import hmac
import os
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.serve.hub import StreamHub, StreamsFull
from voxtral_mlx.serve.protocol import REALTIME_PATH, VLLM_MODEL_ID, ErrorCode, dumps, error_event
from voxtral_mlx.serve.protocol_http import (
    HEALTH_PATH,
    MODELS_PATH,
    TRANSCRIPTIONS_PATH,
    UNAUTHORIZED_BODY,
    RequestError,
    http_error,
    model_list,
    parse_transcription_form,
    transcription_body,
)
from voxtral_mlx.serve.realtime import POLICY, TRY_AGAIN_LATER, Connection, Limits
from voxtral_mlx.serve.uploads import transcribe_upload

MAX_UPLOAD_BYTES = 1 << 30  # 1 GiB: hours of compressed audio; the disk, not memory, holds it


def build_app(hub: StreamHub, *, api_key: str | None = None, model_id: str | None = None,
              limits: Limits | None = None) -> Starlette:  # fmt: skip
    """The app serving ``hub`` (started by the caller, or by the app's start-up)."""
    served = {VLLM_MODEL_ID, model_id or hub.model_name}
    limits = limits or Limits()
    created = int(time.time())

    def authorised(headers) -> bool:
        if not api_key:
            return True
        given = headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode())

    async def health(request: Request) -> Response:
        if hub.error:
            return JSONResponse(http_error(f"the model did not load: {hub.error}", 503), 503)
        return Response(status_code=200 if hub.ready.is_set() else 503)

    async def models(request: Request) -> Response:
        if not authorised(request.headers):
            return JSONResponse(UNAUTHORIZED_BODY, 401)
        return JSONResponse(model_list(sorted(served), created))

    async def transcriptions(request: Request) -> Response:
        if not authorised(request.headers):
            return JSONResponse(UNAUTHORIZED_BODY, 401)
        try:
            return await _transcription(request, hub)
        except RequestError as err:
            return JSONResponse(err.body(), err.status)
        except StreamsFull as err:
            return JSONResponse(http_error(str(err), 503), 503)
        except VoxtralError as err:  # unreadable audio, the engine stopping
            return JSONResponse(http_error(str(err), 400), 400)

    async def realtime(ws: WebSocket) -> None:
        if not authorised(ws.headers):
            await ws.close(POLICY, "Unauthorized")
            return
        await ws.accept()
        if hub.error or hub.active >= hub.max_streams:
            why = f"the model did not load: {hub.error}" if hub.error else (
                f"all {hub.max_streams} streams are in use: try again later")  # fmt: skip
            await ws.send_text(dumps(error_event(why, ErrorCode.TOO_MANY_STREAMS)))
            await ws.close(TRY_AGAIN_LATER, "server full")
            return
        await Connection(ws, hub, served, limits).run()

    routes = [
        Route(HEALTH_PATH, health),
        Route(MODELS_PATH, models),
        Route(TRANSCRIPTIONS_PATH, transcriptions, methods=["POST"]),
        WebSocketRoute(REALTIME_PATH, realtime),
    ]
    return Starlette(routes=routes)


async def _transcription(request: Request, hub: StreamHub) -> Response:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_UPLOAD_BYTES:
        raise RequestError(f"the upload is over {MAX_UPLOAD_BYTES >> 20} MiB", 413, "file")
    async with request.form(max_files=1, max_fields=50) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise RequestError("no file: send the audio as the multipart field 'file'", param="file")  # fmt: skip
        fields = {k: form.getlist(k) for k in form.keys() if k != "file"}  # noqa: SIM118
        options = parse_transcription_form({k: [str(v) for v in vs] for k, vs in fields.items()})
        with tempfile.TemporaryDirectory(prefix="voxtral-upload-") as folder:
            os.chmod(folder, 0o700)  # what someone said: private
            path = Path(folder) / (Path(upload.filename or "audio").name or "audio")
            with open(path, "wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
            transcript = await transcribe_upload(hub, path)
    body, media = transcription_body(transcript, options)
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=media)


__all__ = ["build_app"]
