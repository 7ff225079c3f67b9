"""Several files decoded side by side as rows of one batch, each exactly as if it were alone.

A decoder step for 8 rows costs little more than for one (batch_decode.py), so a folder of
recordings is transcribed several times faster when its files share the steps. Unlike pieces
of one file (parallel.py), nothing is cut: every row is a whole file following the session
protocol, so each file's tokens, words and times equal its own single-stream run.

Exactness needs more than the protocol: every op of a step must give a row the same bits
whatever the other rows are, which depends on the device's kernels. So each file is read in
the blocks the single stream is fed (the encoder sees the same pieces), each row's prompt is
prefilled alone, and the number of rows is capped by a measurement on the model's own layers
(exact_rows.py; e.g. 4 on MLX CUDA with 4-bit weights, 1 with dense bfloat16 there).

Files are grouped into *waves* of up to ``rows`` files of similar length (sorted by duration,
so few rows sit finished while the longest one runs). A row holds its whole file and its KV
cache (~0.1 MB per 80 ms token at full size in bfloat16, twice that in float32), so only files
up to ``MAX_ROW_S`` are batched; longer ones, and files whose length the header does not
give, take the single-stream path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from voxtral_mlx.audio.damage import Damage
from voxtral_mlx.audio.files import iter_audio
from voxtral_mlx.decode.batch import BatchDecoder, BatchInterrupted
from voxtral_mlx.decode.exact_rows import exact_rows
from voxtral_mlx.decode.transcribe import BLOCK_SECONDS, file_metadata
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import SAMPLE_RATE
from voxtral_mlx.text.transcript import Transcript, TranscriptBuilder

MAX_ROW_S = 60.0  # 8 rows: ~0.4 GB of KV in bfloat16 at full size, 0.8 GB in float32
DEFAULT_ROWS = 8


@dataclass
class FileResult:
    """One file of a wave: its transcript (partial if interrupted) or its error."""

    path: Path
    transcript: Transcript | None = None
    error: VoxtralError | None = None
    damage: list[Damage] = field(default_factory=list)


class WaveInterrupted(KeyboardInterrupt):
    """Ctrl-C or a signal during a wave: every file's result so far (finished rows whole)."""

    def __init__(self, results: list[FileResult]):
        super().__init__("interrupted")
        self.results = results


def plan_waves(
    durations: dict[Path, float | None], rows: int
) -> tuple[list[list[Path]], list[Path]]:
    """(waves of up to ``rows`` files, shortest first; files for the single-stream path)."""
    fits = sorted((d, str(p), p) for p, d in durations.items() if d is not None and d <= MAX_ROW_S)
    alone = [p for p, d in durations.items() if d is None or d > MAX_ROW_S]
    ordered = [p for _, _, p in fits]
    waves = [ordered[i : i + rows] for i in range(0, len(ordered), rows)]
    if waves and len(waves[-1]) == 1:  # a wave of one gains nothing: the plain path
        alone.insert(0, waves.pop()[0])
    return waves, alone


class FileBatch:
    """Decodes waves of files. Runs on the MLX thread; ``delay_ms`` as in StreamingSession."""

    def __init__(self, model, tokenizer, delay_ms: int | None = None, strict: bool = False):
        self.decoder = BatchDecoder(model, tokenizer, delay_ms)
        self.delay_ms = self.decoder.delay_ms
        self.strict = strict
        self.model = model

    def exact_rows(self, want: int) -> int:
        """The most rows (<= ``want``) this device decodes exactly as one (exact_rows.py)."""
        return exact_rows(self.model, want)

    def transcribe(
        self,
        paths: list[Path],
        metadata: dict | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[FileResult]:
        """One wave. A file that cannot be read gets its error and leaves the wave; the others
        are decoded together. ``on_progress(fraction)`` during the decode. Raises
        WaveInterrupted (with every row's tokens so far) on KeyboardInterrupt."""
        results = [FileResult(p) for p in paths]
        clips, rows = [], []
        for res in results:
            try:
                # The blocks transcribe_file feeds its session, so the encoder runs on the
                # same pieces.
                blocks = iter_audio(res.path, BLOCK_SECONDS, strict=self.strict,
                                    on_damage=res.damage.append)  # fmt: skip
                clips.append(list(blocks))
                rows.append(res)
            except VoxtralError as err:
                res.error = err
        if not clips:
            return results
        try:
            events = self.decoder.decode(clips, on_progress=on_progress)
        except BatchInterrupted as stop:
            for res, clip, evs, ended in zip(rows, clips, stop.events, stop.finished, strict=True):
                res.transcript = self._transcript(res.path, clip, evs, metadata, not ended)
            raise WaveInterrupted(results) from None
        for res, clip, evs in zip(rows, clips, events, strict=True):
            res.transcript = self._transcript(res.path, clip, evs, metadata, False)
        return results

    def _transcript(self, path, clip, events, metadata, interrupted: bool) -> Transcript:
        """What transcribe_file builds for the same tokens: same words, times and metadata."""
        builder = TranscriptBuilder()
        builder.add(events)
        meta = file_metadata(path, self.delay_ms, metadata)
        if interrupted:
            meta["interrupted"] = True
            seconds = max([0.0] + [e.end for e in events])
        else:
            seconds = sum(map(len, clip)) / SAMPLE_RATE
        return builder.build(duration=seconds, **meta)


__all__ = ["DEFAULT_ROWS", "MAX_ROW_S", "FileBatch", "FileResult", "WaveInterrupted", "plan_waves"]
