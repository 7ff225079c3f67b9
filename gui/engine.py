"""Which engine captions: the model on this computer, or a server that speaks vLLM's realtime
protocol (ours, ``python -m voxtral_mlx serve``, or a vLLM deployment of the model).

No widgets and no MLX: :class:`Engine` is a plain value the settings keep
(:data:`~gui.settings.Key.ENGINE`, ``SERVER_URL``, ``API_KEY``) and the bridge makes its
transcriber's loader from (:func:`voxtral_mlx.serve.client.remote_loader` for a server). With a
server there are no drafts (they need a second row of the model here) and the delay is the
server's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from voxtral_mlx.serve.client import remote_loader

from .settings import Key, Settings

LOCAL, SERVER = "local", "server"
SCHEMES = ("ws", "wss", "http", "https")
DRAFTS_OFF = "Drafts need the model on this computer: with a server there are none"
DELAY_OFF = "The server decides the delay"


def normal_url(text: str) -> str:
    """The address as the client takes it: trimmed, ``ws://`` added to a bare ``HOST:PORT``."""
    text = text.strip()
    return text if "://" in text or not text else f"ws://{text}"


def url_problem(text: str) -> str:
    """Why ``text`` is not a server address, in one line ("": it is one)."""
    url = normal_url(text)
    if not url:
        return "Enter the server's address: ws://HOST:PORT or http://HOST:PORT"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as err:
        return f"{url} is not an address: {err}"
    if parts.scheme not in SCHEMES or not parts.hostname:
        return f"{url} is not a server address: use ws://HOST:PORT or http://HOST:PORT"
    return ""


@dataclass(frozen=True)
class Engine:
    """``kind``: :data:`LOCAL` or :data:`SERVER`; for a server its ``url`` (as the user typed
    it) and ``api_key`` ("" = none)."""

    kind: str = LOCAL
    url: str = ""
    api_key: str = ""

    @property
    def remote(self) -> bool:
        return self.kind == SERVER

    @property
    def address(self) -> str:
        """The server's address as the client takes it ("" for this computer)."""
        return normal_url(self.url) if self.remote else ""

    @property
    def label(self) -> str:
        """What the status line says about it: "" for this computer, "Server ws://…"."""
        return f"Server {self.address}" if self.remote else ""

    def loader(self) -> Callable:
        """The transcriber's ``model_loader`` for a server (no network until a session opens)."""
        return remote_loader(self.address, self.api_key.strip() or None)


def usable(kind: str, url: str, api_key: str) -> Engine:
    """The engine to run for a choice: a server whose address is not one is not used (this
    computer is, until the address is right)."""
    if kind != SERVER or url_problem(url):
        return Engine()
    return Engine(SERVER, url.strip(), api_key)


def chosen_engine(settings: Settings) -> Engine:
    """The engine the settings hold (see :func:`usable`)."""
    return usable(settings.get(Key.ENGINE), settings.get(Key.SERVER_URL), settings.get(Key.API_KEY))


__all__ = ["DELAY_OFF", "DRAFTS_OFF", "LOCAL", "SERVER", "Engine", "chosen_engine", "normal_url",
           "url_problem", "usable"]  # fmt: skip
