"""Numeric parity of the MLX model with transformers' PyTorch Voxtral Realtime (fp32).

Each tiny config is built by the reference with seeded random weights, written to disk by the
reference's own ``save_pretrained`` (transformers layout) and by our native exporter
(``hf_reference.save_native``), then loaded through the real ``weights.load``.

Tolerances held (fp32, both sides on the same mel): conv stem / encoder / adapter max abs diff
<= 1e-4 relative to each tensor's max magnitude (they are O(1)-O(10)); logits max abs diff
<= 1e-4 x max(1, max|logit|); greedy ids identical over every generated step (>= 50).
"""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.checkpoint import layouts, weights
from voxtral_mlx.errors import WeightsError

from . import hf_reference as ref

N_DELAY = 6
SECONDS = {"tiny": 5.0, "windowed": 5.0, "q64": 4.0}


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))


class Case:
    """One reference model, its checkpoints on disk and its reference outputs (computed once)."""

    def __init__(self, name: str, root):
        self.name = name
        self.torch_model = ref.build(name, seed=0)
        self.native = ref.save_native(self.torch_model, root / "native")
        self.transformers = ref.save_transformers(self.torch_model, root / "hf")
        self.samples = ref.test_audio(SECONDS[name], seed=1)
        self.mel = ref.reference_mel(ref.padded(self.samples, N_DELAY))
        n_pos = self.mel.shape[0] // 8
        rng = np.random.default_rng(2)
        # A prompt then varied text ids, as teacher forcing would see them.
        self.ids = ref.prompt_ids(39) + rng.integers(1000, 1152, n_pos - 39).tolist()
        self.out = ref.reference_forward(self.torch_model, self.mel, self.ids, N_DELAY)
        self.greedy = ref.reference_greedy(self.torch_model, self.mel, N_DELAY)


_CASES: dict[str, Case] = {}


def _case(name: str, tmp_path_factory) -> Case:
    if name not in _CASES:
        _CASES[name] = Case(name, tmp_path_factory.mktemp(name))
    return _CASES[name]


@pytest.fixture(scope="module", params=list(ref.CONFIGS))
def case(request, tmp_path_factory):
    return _case(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_case(tmp_path_factory):
    return _case("tiny", tmp_path_factory)


@pytest.fixture(scope="module")
def windowed_case(tmp_path_factory):
    return _case("windowed", tmp_path_factory)


def _ours(model, case: Case) -> dict[str, np.ndarray]:
    mel = mx.array(case.mel)[None]
    return {
        "conv": np.array(model.encoder.conv_stem(mel)[0]),
        "encoder": np.array(model.encoder(mel)[0]),
        "adapter": np.array(model.encode(mel)[0]),
        "logits": np.array(model(mx.array([case.ids]), mel, N_DELAY)[0]),
    }


@pytest.mark.parametrize("layout", ["native", "transformers"])
def test_forward_parity(case, layout):
    model, cfg = weights.load(getattr(case, layout))
    assert layouts.detect_layout(getattr(case, layout))[0] == layout
    ours = _ours(model, case)
    for key in ("conv", "encoder", "adapter", "logits"):
        assert _rel(ours[key], case.out[key]) <= 1e-4, key
    # Greedy choices agree at every teacher-forced position too.
    assert (ours["logits"].argmax(-1) == case.out["logits"].argmax(-1)).all()


def test_greedy_ids_identical(case):
    model, _ = weights.load(case.native)
    ours = model.greedy(mx.array(case.mel)[None], ref.prompt_ids(39), N_DELAY, eos_id=ref.EOS)
    assert len(case.greedy) >= 50
    assert len(set(case.greedy)) > 3  # varied tokens, so agreement is not vacuous
    assert ours == case.greedy


def test_windows_are_crossed_by_the_windowed_case(windowed_case):
    case = windowed_case
    model, cfg = weights.load(case.native)
    assert case.mel.shape[0] // 2 > 2 * cfg.encoder.sliding_window
    assert case.mel.shape[0] // 8 > 2 * cfg.sliding_window


def test_incremental_matches_full_on_reference_weights(case):
    """Prefill + one step per token over the reference's weights == one full forward."""
    model, _ = weights.load(case.transformers)
    mel = mx.array(case.mel)[None]
    dec = model.decoder
    x = dec.embed(mx.array([case.ids])) + model.encode(mel)
    gains, cache = dec.ffn_gains(N_DELAY), dec.make_cache()
    rows = [dec(x[:, :39], gains, cache)] + [
        dec(x[:, p : p + 1], gains, cache) for p in range(39, x.shape[1])
    ]
    inc = np.array(mx.concatenate(rows, axis=1)[0])
    assert _rel(inc, case.out["logits"]) <= 1e-4


def test_sharded_transformers_checkpoint(tiny_case, tmp_path):
    case = tiny_case
    folder = ref.save_transformers(case.torch_model, tmp_path / "sharded", max_shard_size="100KB")
    assert len(list(folder.glob("model-*-of-*.safetensors"))) > 1
    model, _ = weights.load(folder)
    assert _rel(_ours(model, case)["logits"], case.out["logits"]) <= 1e-4


def test_bfloat16_drift(case):
    """bf16 weights + activations against the fp32 reference: bounded drift, argmax mostly kept."""
    model, _ = weights.load(case.native, dtype=mx.bfloat16)
    mel = mx.array(case.mel)[None].astype(mx.bfloat16)
    logits = np.array(model(mx.array([case.ids]), mel, N_DELAY)[0].astype(mx.float32))
    drift = _rel(logits, case.out["logits"])
    agree = float((logits.argmax(-1) == case.out["logits"].argmax(-1)).mean())
    print(
        f"\n[bf16 drift] {case.name}: max|diff|/max(1,max|logit|) = {drift:.3e}, argmax agreement {agree:.1%}"
    )
    assert drift < 0.1 and agree >= 0.8


# ---- the parity checks can fail ------------------------------------------------------------------
def test_perturbing_one_weight_breaks_parity(tiny_case, tmp_path):
    case = tiny_case
    folder = tmp_path / "perturbed"
    folder.mkdir()
    (folder / "params.json").write_text((case.native / "params.json").read_text())
    tensors = dict(mx.load(str(case.native / "consolidated.safetensors")))
    name = "layers.1.feed_forward.w2.weight"
    w = np.array(tensors[name])
    w[3, 5] += 0.05
    tensors[name] = mx.array(w)
    mx.save_safetensors(str(folder / "consolidated.safetensors"), tensors)
    model, _ = weights.load(folder)
    assert _rel(_ours(model, case)["logits"], case.out["logits"]) > 1e-4


@pytest.mark.parametrize("which", ["encoder", "decoder"])
def test_changing_a_window_breaks_parity(windowed_case, tmp_path, which):
    case = windowed_case
    folder = tmp_path / "window"
    folder.mkdir()
    params = json.loads((case.native / "params.json").read_text())
    target = (
        params["multimodal"]["whisper_model_args"]["encoder_args"] if which == "encoder" else params
    )
    target["sliding_window"] += 1
    (folder / "params.json").write_text(json.dumps(params))
    (folder / "consolidated.safetensors").symlink_to(case.native / "consolidated.safetensors")
    model, _ = weights.load(folder)
    ours = _ours(model, case)
    assert _rel(ours["logits"], case.out["logits"]) > 1e-4
    if which == "encoder":
        assert _rel(ours["encoder"], case.out["encoder"]) > 1e-4


def test_native_checkpoint_with_a_foreign_tensor_is_rejected(tiny_case, tmp_path):
    case = tiny_case
    folder = tmp_path / "foreign"
    folder.mkdir()
    (folder / "params.json").write_text((case.native / "params.json").read_text())
    tensors = dict(mx.load(str(case.native / "consolidated.safetensors")))
    tensors["mm_streams_embeddings.embedding_module.whisper_encoder.extra.weight"] = mx.zeros((2,))
    mx.save_safetensors(str(folder / "consolidated.safetensors"), tensors)
    with pytest.raises(
        WeightsError, match="unexpected tensor 'mm_streams_embeddings.*extra.weight'"
    ):
        weights.load(folder)
