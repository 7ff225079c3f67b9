"""Checkpoint layouts: every tensor name of every layout mapped onto the model tree, here only.

Three layouts:

- ``native``: Mistral's release, ``params.json`` + ``consolidated.safetensors``; q/k weights are
  already in the interleaved RoPE order our attention uses.
- ``transformers``: ``config.json`` + ``model.safetensors`` (or shards + index); q/k weights (and
  the encoder q bias) were permuted for rotate-half RoPE and are un-permuted here.
- ``mlx``: what ``weights.save`` writes: ``params.json`` (with a ``voxtral_mlx`` block) + our
  own tensor names in MLX layout.

Each foreign layout has a name table (regex -> our name) and a list of names dropped on
purpose; a name in neither is an error. The conv stem's transpose (torch ``[out, in, k]`` ->
MLX ``[out, k, in]``) and the RoPE un-permutation live beside the tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import mlx.core as mx

from voxtral_mlx.checkpoint.safetensors_io import shard_files
from voxtral_mlx.config import ModelConfig
from voxtral_mlx.errors import ConfigError, WeightsError
from voxtral_mlx.fs.json_file import read_json_object
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.fused import checkpoint_parameters

MLX_FORMAT_KEY = "voxtral_mlx"  # the params.json block that marks our own (mlx) layout

NATIVE_AUDIO_PREFIX = "mm_streams_embeddings.embedding_module."
NATIVE_ENCODER_PREFIX = NATIVE_AUDIO_PREFIX + "whisper_encoder."
_E, _A = re.escape(NATIVE_ENCODER_PREFIX), re.escape(NATIVE_AUDIO_PREFIX)
NATIVE_NAMES: list[tuple[str, str]] = [
    (_E + r"conv_layers\.0\.conv\.(weight|bias)", r"encoder.conv1.\1"),
    (_E + r"conv_layers\.1\.conv\.(weight|bias)", r"encoder.conv2.\1"),
    (_E + r"transformer\.layers\.(\d+)\.(.+)", r"encoder.layers.\1.\2"),
    (_E + r"transformer\.norm\.weight", r"encoder.norm.weight"),
    (_A + r"audio_language_projection\.0\.weight", r"adapter.w_in.weight"),
    (_A + r"audio_language_projection\.2\.weight", r"adapter.w_out.weight"),
    (_A + r"tok_embeddings\.weight", r"decoder.tok_embeddings.weight"),
    (r"layers\.(\d+)\.ada_rms_norm_t_cond\.0\.weight", r"decoder.layers.\1.ada_norm.w_in.weight"),
    (r"layers\.(\d+)\.ada_rms_norm_t_cond\.2\.weight", r"decoder.layers.\1.ada_norm.w_out.weight"),
    (r"layers\.(\d+)\.(.+)", r"decoder.layers.\1.\2"),
    (r"norm\.weight", r"decoder.norm.weight"),
]
NATIVE_DROPPED = [r"output\.weight"]  # tied head: a copy of tok_embeddings if present
# The inverse table (our names -> native), used to write native checkpoints (benchmarks, tests).
NATIVE_EXPORT: list[tuple[str, str]] = [
    (r"encoder\.conv1\.(weight|bias)", NATIVE_ENCODER_PREFIX + r"conv_layers.0.conv.\1"),
    (r"encoder\.conv2\.(weight|bias)", NATIVE_ENCODER_PREFIX + r"conv_layers.1.conv.\1"),
    (r"encoder\.layers\.(\d+)\.(.+)", NATIVE_ENCODER_PREFIX + r"transformer.layers.\1.\2"),
    (r"encoder\.norm\.weight", NATIVE_ENCODER_PREFIX + "transformer.norm.weight"),
    (r"adapter\.w_in\.weight", NATIVE_AUDIO_PREFIX + "audio_language_projection.0.weight"),
    (r"adapter\.w_out\.weight", NATIVE_AUDIO_PREFIX + "audio_language_projection.2.weight"),
    (r"decoder\.tok_embeddings\.weight", NATIVE_AUDIO_PREFIX + "tok_embeddings.weight"),
    (r"decoder\.layers\.(\d+)\.ada_norm\.w_in\.weight", r"layers.\1.ada_rms_norm_t_cond.0.weight"),
    (r"decoder\.layers\.(\d+)\.ada_norm\.w_out\.weight", r"layers.\1.ada_rms_norm_t_cond.2.weight"),
    (r"decoder\.layers\.(\d+)\.(.+)", r"layers.\1.\2"),
    (r"decoder\.norm\.weight", "norm.weight"),
]

_AT, _LM = r"audio_tower\.", r"language_model\.model\."
_HF_ATTN = {"q": "wq", "k": "wk", "v": "wv", "o": "wo"}
_HF_MLP = {"gate": "w1", "down": "w2", "up": "w3"}
TRANSFORMERS_NAMES: list[tuple[str, str | Callable]] = [
    (_AT + r"embedder\.conv([12])\.(weight|bias)", r"encoder.conv\1.\2"),
    (_AT + r"layers\.(\d+)\.self_attn\.([qkvo])_proj\.(weight|bias)",
     lambda m: f"encoder.layers.{m[1]}.attention.{_HF_ATTN[m[2]]}.{m[3]}"),
    (_AT + r"layers\.(\d+)\.self_attn_layer_norm\.weight", r"encoder.layers.\1.attention_norm.weight"),
    (_AT + r"layers\.(\d+)\.final_layer_norm\.weight", r"encoder.layers.\1.ffn_norm.weight"),
    (_AT + r"layers\.(\d+)\.mlp\.(gate|down|up)_proj\.(weight|bias)",
     lambda m: f"encoder.layers.{m[1]}.feed_forward.{_HF_MLP[m[2]]}.{m[3]}"),
    (_AT + r"norm\.weight", r"encoder.norm.weight"),
    (r"multi_modal_projector\.linear_1\.weight", r"adapter.w_in.weight"),
    (r"multi_modal_projector\.linear_2\.weight", r"adapter.w_out.weight"),
    (_LM + r"embed_tokens\.weight", r"decoder.tok_embeddings.weight"),
    (_LM + r"layers\.(\d+)\.self_attn\.([qkvo])_proj\.weight",
     lambda m: f"decoder.layers.{m[1]}.attention.{_HF_ATTN[m[2]]}.weight"),
    (_LM + r"layers\.(\d+)\.input_layernorm\.weight", r"decoder.layers.\1.attention_norm.weight"),
    (_LM + r"layers\.(\d+)\.post_attention_layernorm\.weight", r"decoder.layers.\1.ffn_norm.weight"),
    (_LM + r"layers\.(\d+)\.mlp\.(gate|down|up)_proj\.weight",
     lambda m: f"decoder.layers.{m[1]}.feed_forward.{_HF_MLP[m[2]]}.weight"),
    (_LM + r"layers\.(\d+)\.ada_rms_norm\.linear1\.weight", r"decoder.layers.\1.ada_norm.w_in.weight"),
    (_LM + r"layers\.(\d+)\.ada_rms_norm\.linear2\.weight", r"decoder.layers.\1.ada_norm.w_out.weight"),
    (_LM + r"norm\.weight", r"decoder.norm.weight"),
]  # fmt: skip
TRANSFORMERS_DROPPED = [r"lm_head\.weight"]  # tied to embed_tokens

_CONV = re.compile(r"encoder\.conv[12]\.weight")
_ROPE_PERMUTED = re.compile(r"(encoder|decoder)\.layers\.\d+\.attention\.w([qk])\.(weight|bias)")


# ---- layout detection ----------------------------------------------------------------------------
def detect_layout(folder: Path) -> tuple[str, ModelConfig, list[Path]]:
    """Which layout a folder holds, its config and its weight files; a one-line WeightsError
    for a folder that is missing, holds no config, a bad config or no weights."""
    if not folder.is_dir():
        raise WeightsError(f"model folder not found: {folder}")
    params, config_json = folder / "params.json", folder / "config.json"
    if params.is_file():
        data = read_json_object(params, WeightsError)
        cfg = _config(ModelConfig.from_dict, data, params)
        if MLX_FORMAT_KEY in data:
            return "mlx", cfg, _weight_files(folder, "model")
        return "native", cfg, _weight_files(folder, "consolidated")
    if config_json.is_file():
        data = read_json_object(config_json, WeightsError)
        cfg = _config(ModelConfig.from_transformers, data, config_json)
        return "transformers", cfg, _weight_files(folder, "model")
    raise WeightsError(f"{folder}: not a Voxtral model folder (no params.json or config.json)")


def _config(build: Callable, data: dict, path: Path) -> ModelConfig:
    """``build(data, source)``; every problem (ConfigError names the key) is a WeightsError."""
    try:
        return build(data, str(path))
    except ConfigError as e:
        raise WeightsError(str(e)) from e
    except (TypeError, ValueError, AttributeError, RecursionError) as e:  # a case not foreseen
        raise WeightsError(f"{path}: malformed config ({type(e).__name__}: {e})") from e


def _weight_files(folder: Path, stem: str) -> list[Path]:
    """``stem.safetensors``, or the shards its index lists."""
    files = shard_files(folder, f"{stem}.safetensors", f"{stem}.safetensors.index.json")
    if not files:
        raise WeightsError(f"{folder}: no weights (*.safetensors) in the model folder")
    return files


# ---- renaming ------------------------------------------------------------------------------------
def rename(layout: str, name: str) -> str | None:
    """Target parameter name, None for an explicitly dropped tensor; KeyError if unknown."""
    if layout == "mlx":
        return name
    table, dropped = (
        (NATIVE_NAMES, NATIVE_DROPPED)
        if layout == "native"
        else (TRANSFORMERS_NAMES, TRANSFORMERS_DROPPED)
    )
    if any(re.fullmatch(p, name) for p in dropped):
        return None
    for pattern, target in table:
        m = re.fullmatch(pattern, name)
        if m:
            return target(m) if callable(target) else m.expand(target)
    raise KeyError(name)


def native_name(name: str) -> str:
    """Our parameter name -> the Mistral native checkpoint name."""
    for pattern, target in NATIVE_EXPORT:
        m = re.fullmatch(pattern, name)
        if m:
            return m.expand(target)
    raise KeyError(name)


def native_tensors(
    model: VoxtralRealtime, dtype: mx.Dtype = mx.bfloat16, init: Callable | None = None
) -> list[tuple]:
    """``(native name, torch-layout shape, dtype, make)`` for ``safetensors_io.write_streaming``.

    ``make()`` returns the model's parameter, or ``init(name, shape)`` when given (e.g. random
    weights for a full-size benchmark): with ``init`` and a lazily built model, only one tensor
    is ever materialised, so a 9 GB checkpoint is written in bounded memory.
    """
    out = []
    for name, w in checkpoint_parameters(model):
        shape = tuple(w.shape)
        conv = bool(_CONV.fullmatch(name))

        def make(w=w, name=name, shape=shape, conv=conv):
            w = init(name, shape) if init is not None else w
            return w.swapaxes(1, 2) if conv else w

        torch_shape = (shape[0], shape[2], shape[1]) if conv else shape  # MLX [out, k, in]
        out.append((native_name(name), torch_shape, dtype, make))
    return out


# ---- tensor layout: the conv stem's transpose and RoPE's row order -------------------------------
def mlx_shape(layout: str, target: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The MLX shape of parameter ``target`` stored as ``shape`` in ``layout``."""
    if layout != "mlx" and _CONV.fullmatch(target):
        return (shape[0], shape[2], shape[1])  # torch [out, in, k] -> MLX [out, k, in]
    return shape


def to_mlx(layout: str, target: str, w: mx.array, cfg: ModelConfig) -> mx.array:
    """Tensor ``w`` of parameter ``target`` as the model wants it: the conv stem transposed,
    transformers' q/k rows back in interleaved RoPE order (lazy: nothing is computed here)."""
    if layout == "mlx":
        return w
    if _CONV.fullmatch(target):
        return w.swapaxes(1, 2)
    m = _ROPE_PERMUTED.fullmatch(target) if layout == "transformers" else None
    if m:
        args = cfg.encoder if m[1] == "encoder" else cfg
        heads = args.n_heads if m[2] == "q" else (args.n_kv_heads or args.n_heads)
        return _unpermute_rope(w, heads)
    return w


def _unpermute_rope(w: mx.array, n_heads: int) -> mx.array:
    """Undo transformers' ``permute_for_rope``: rotate-half row order -> interleaved pairs."""
    rest = w.shape[1:]
    head_dim = w.shape[0] // n_heads
    w = w.reshape(n_heads, 2, head_dim // 2, *rest).swapaxes(1, 2)
    return w.reshape(n_heads * head_dim, *rest)
