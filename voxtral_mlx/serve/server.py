"""Run the server: the hub on its MLX thread, the app under uvicorn, until Ctrl-C or SIGTERM.

The hub starts loading the model at once; ``/health`` says 503 until it is loaded, and streams
that connect meanwhile wait for it. On shutdown every open stream gets an error event, the hub's
thread ends and the process exits 0.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from voxtral_mlx.serve.hub import StreamHub
from voxtral_mlx.serve.protocol import TRANSPORT_MAX_BYTES

log = logging.getLogger(__name__)

# The hub's thread and the event loop take turns at the GIL (MLX lets go of it while the device
# works). Python makes a thread that wants it wait up to the switch interval, 5 ms by default,
# for one that runs Python: at 64 streams a token's event then waited behind the hub's graph
# building, and the hub behind the loop's JSON. 0.5 ms halved the p95 latency of 64 streams
# (benchmarks/bench_serve.py, docs/benchmarks.md).
SWITCH_INTERVAL_S = 0.0005


def favour_latency() -> None:
    """Hand the GIL between threads sooner (process-wide; a server's process)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def make_server(loader: Callable[[], tuple[Any, Any]], *, host: str = "127.0.0.1",
                port: int = 8000, max_streams: int = 64, delay_ms: int | None = None,
                api_key: str | None = None, model_id: str | None = None,
                log_level: str = "warning", limits=None, batch_rows: int | None = None,
                max_tokens_per_step: int | None = None):  # fmt: skip
    """(uvicorn server, hub): ``server.run()`` serves until stopped; the caller stops the hub."""
    import uvicorn

    from voxtral_mlx.serve.app import build_app

    hub = StreamHub(loader, max_streams=max_streams, delay_ms=delay_ms, batch_rows=batch_rows,
                    max_tokens_per_step=max_tokens_per_step)  # fmt: skip
    app = build_app(hub, api_key=api_key, model_id=model_id, limits=limits)
    config = uvicorn.Config(app, host=host, port=port, ws_max_size=TRANSPORT_MAX_BYTES,
                            log_level=log_level, lifespan="off", ws="websockets-sansio")  # fmt: skip
    return uvicorn.Server(config), hub


def serve(loader, **options) -> int:
    """Serve until interrupted; 0 on a clean stop, 1 (one line on stderr) when the model does
    not load: the server stops then rather than answer 503 for ever."""
    favour_latency()
    server, hub = make_server(loader, **options)
    started = time.monotonic()
    hub.start()

    def watch() -> None:
        hub.ready.wait()
        if hub.error:
            server.should_exit = True
        else:  # clients get 503 from /health until now
            print(f"ready for {hub.max_streams} streams ({time.monotonic() - started:.0f} s: "
                  f"the model loaded, every call shape run once)", file=sys.stderr, flush=True)  # fmt: skip

    threading.Thread(target=watch, name="voxtral-serve-watch", daemon=True).start()
    try:
        server.run()
    finally:
        hub.stop()
        hub.join(30)
    if hub.error:
        print(f"error: the model did not load: {hub.error}", file=sys.stderr)
        return 1
    return 0


__all__ = ["SWITCH_INTERVAL_S", "favour_latency", "make_server", "serve"]
