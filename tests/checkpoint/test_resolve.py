"""Which folder a model name means; the only network call, with an injected download."""

import pytest

from voxtral_mlx.checkpoint.resolve import NATIVE_FILES, resolve
from voxtral_mlx.errors import WeightsError


@pytest.fixture
def saved(tmp_path):
    (tmp_path / "m").mkdir()
    return tmp_path / "m"


def test_resolve_local_and_repo(tmp_path, saved):
    assert resolve(saved) == saved
    calls = []

    def fake_download(repo_id, allow_patterns):
        calls.append((repo_id, allow_patterns))
        return str(saved)

    assert resolve("mistralai/Voxtral-Mini-4B-Realtime-2602", download=fake_download) == saved
    # Only the three native files, never the second (transformers) copy of the weights.
    assert calls == [("mistralai/Voxtral-Mini-4B-Realtime-2602", list(NATIVE_FILES))]
    assert set(NATIVE_FILES) == {"params.json", "tekken.json", "consolidated.safetensors"}


def test_resolve_offline_is_one_line(tmp_path):
    def offline(repo_id, allow_patterns):
        raise ConnectionError("Max retries exceeded\nwith url ...")

    with pytest.raises(WeightsError) as e:
        resolve("someone/some-model", download=offline)
    assert "\n" not in str(e.value) and "network" in str(e.value)
    with pytest.raises(WeightsError, match="not found"):
        resolve(str(tmp_path / "missing-folder"))
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(WeightsError, match="got a file"):
        resolve(tmp_path / "f.txt")
