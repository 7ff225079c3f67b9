"""Fixtures of the audio capture tests."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def no_leaked_threads():
    before = threading.active_count()
    yield
    assert threading.active_count() == before
