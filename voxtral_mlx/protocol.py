"""Facts of the realtime protocol that need no model: the delay range and the padding.

No MLX import here, so the command line can check its arguments before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxtral_mlx.errors import VoxtralError

SAMPLE_RATE = 16000  # the model's audio: mono, 16 kHz
SAMPLES_PER_TOKEN = 1280  # one 80 ms decoder step
MIN_DELAY_MS, MAX_DELAY_MS = 80, 2400
DELAY_STEP_MS = 80  # one token
RIGHT_PAD_EXTRA_TOKENS = 10  # mistral-common's OFFLINE_STREAMING_BUFFER_TOKENS
# What the release's tekken.json says, used when a tekken.json leaves them out.
DEFAULT_DELAY_MS = 480
DEFAULT_LEFT_PAD_TOKENS = 32
# Live captions with drafts (as in Mistral's own two-delay example): a fast draft row shown
# dimmed after the accurate final row's text.
LIVE_FINAL_DELAY_MS = 2400
LIVE_DRAFT_DELAY_MS = 240


def live_delays(delay_ms: int | None, draft_delay_ms: int | None) -> tuple[int | None, int]:
    """(final, draft) delays for live captions: the draft defaults to ``LIVE_DRAFT_DELAY_MS``
    (0: drafts off); with drafts on the final row defaults to ``LIVE_FINAL_DELAY_MS``, without
    them to the model's own (None)."""
    draft = LIVE_DRAFT_DELAY_MS if draft_delay_ms is None else draft_delay_ms
    if delay_ms is None and draft:
        delay_ms = LIVE_FINAL_DELAY_MS
    return delay_ms, draft


def right_pad_tokens(n_delay: int) -> int:
    """Tokens of silence after the audio that let its last words out at a delay of ``n_delay``."""
    return n_delay + 1 + RIGHT_PAD_EXTRA_TOKENS


def valid_delay_ms(ms: int) -> bool:
    return MIN_DELAY_MS <= ms <= MAX_DELAY_MS and ms % DELAY_STEP_MS == 0


def check_delay_ms(ms: int) -> int:
    """``ms`` as an int, or a one-line VoxtralError saying what is allowed."""
    if not valid_delay_ms(ms):
        raise VoxtralError(
            f"delay must be a multiple of {DELAY_STEP_MS} ms from {MIN_DELAY_MS} to "
            f"{MAX_DELAY_MS}, got {ms}"
        )
    return int(ms)


@dataclass(frozen=True)
class StreamProtocol:
    """The numbers of one stream at one delay, in one place: the prompt, the padding and the
    time each emitted token describes (shared/model-spec.md section 3).

    A token emitted at decoder position ``p`` describes the audio ``n_delay`` tokens before
    ``p - n_left``; ``right_pad_tokens`` of silence let the last words out.
    """

    delay_ms: int
    n_delay: int
    n_left: int
    samples_per_token: int
    sample_rate: int
    prompt: tuple[int, ...]

    @classmethod
    def of(cls, config, tokenizer, delay_ms: int | None = None) -> StreamProtocol:
        """For a model config (``config.ModelConfig``) and its tokenizer; ``delay_ms`` None:
        the tokenizer's default. Raises VoxtralError for a delay outside the allowed range."""
        audio = tokenizer.audio
        ms = check_delay_ms(audio.transcription_delay_ms if delay_ms is None else delay_ms)
        n_delay, n_left = config.delay_tokens(ms), audio.streaming_n_left_pad_tokens
        prompt = (tokenizer.bos_id,) + (tokenizer.streaming_pad_id,) * (n_left + n_delay)
        return cls(ms, n_delay, n_left, config.samples_per_token,
                   config.audio.sampling_rate, prompt)  # fmt: skip

    @property
    def right_pad_tokens(self) -> int:
        return right_pad_tokens(self.n_delay)

    @property
    def token_seconds(self) -> float:
        return self.samples_per_token / self.sample_rate

    def token_sample(self, position: int) -> int:
        """First audio sample (from the stream's first real sample; negative within the left
        padding) described by the token emitted at decoder position ``position``."""
        return (position - self.n_left - self.n_delay) * self.samples_per_token
