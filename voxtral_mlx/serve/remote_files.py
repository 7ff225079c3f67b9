"""Files through a server (``python -m voxtral_mlx FILE --server URL``): decoded here as the
command line decodes files, streamed as one realtime session. Apart from ``client.py`` so that
the app, which uses a server only for live audio, does not bundle the file decoders (PyAV).
"""

from __future__ import annotations

from voxtral_mlx.serve.client import RemoteEngine


def transcribe_remote(path, engine: RemoteEngine, *, metadata: dict | None = None,
                      on_progress=None, strict: bool = False, on_damage=None):  # fmt: skip
    """A file's transcript through the server: decoded here as the CLI decodes files (so the
    server hears exactly what the model here would), streamed as one realtime session."""
    from voxtral_mlx.audio.files import iter_audio
    from voxtral_mlx.decode.transcribe import file_metadata
    from voxtral_mlx.text.transcript import TranscriptBuilder

    session = engine.open_session()
    builder = TranscriptBuilder()
    try:
        for block in iter_audio(path, block_seconds=10.0, strict=strict, on_damage=on_damage):
            session.push(block)
            builder.add(session.take())
            if on_progress is not None:
                on_progress(session.audio_seconds)
        session.close()
        while not session.done:
            builder.add(session.step())
        builder.add(session.take())
    finally:
        session.abandon()
    meta = file_metadata(path, session.delay_ms, metadata)
    return builder.build(duration=session.audio_seconds, **meta)


__all__ = ["transcribe_remote"]
