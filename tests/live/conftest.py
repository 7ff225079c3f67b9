"""Fixtures of the live tests: a tiny checkpoint folder, and threads back where they were."""

from __future__ import annotations

import threading

import pytest

from tests.live.tiny_live import folder, wait_for  # noqa: F401  (folder: a fixture)


@pytest.fixture
def threads_back():
    before = threading.active_count()
    yield
    wait_for(lambda: threading.active_count() == before, 5.0)
