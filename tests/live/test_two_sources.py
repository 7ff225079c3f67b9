"""Two sources at once (the microphone "You" and the computer's audio "Others") as rows of one
batch: each gives exactly the offline tokens of the audio it was fed, its events and words
carry its label, the transcript, journal and kept audio keep the labels; one source ending
early leaves the other going; a failing one is reported with its label."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH, Loader, offline_tokens, wait_for
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.errors import DeviceError
from voxtral_mlx.live.autosave import recover
from voxtral_mlx.live.engine import LiveTranscriber
from voxtral_mlx.live.events import ErrorEvent, MeterEvent, Status, StatusEvent, TextEvent
from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at
from voxtral_mlx.testing.echo import mic_hears

folder = tiny_live.folder
OTHER = np.ascontiguousarray(SPEECH[::-1][: len(SPEECH) // 2] * 0.8)  # shorter: ends first


class Both:
    """Events and, per label, the audio the model was fed."""

    def __init__(self):
        self.events, self.fed = [], {YOU: [], OTHERS: []}

    def on_event(self, event):
        self.events.append(event)

    def tap(self, chunk, label):
        self.fed[label].append(chunk)

    def audio(self, label):
        return np.concatenate(self.fed[label])

    def of(self, kind, source="any"):
        return [e for e in self.events if isinstance(e, kind) and source in ("any", e.source)]


def chunks(audio, size=1600):
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def run_both(folder, tmp_path, others, **kw):
    sd = FakeSoundDevice([FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), rate=48000,
                                     speed=4.0)])  # fmt: skip
    both = Both()
    lt = LiveTranscriber(Loader(folder), {YOU: MicSource(sd=sd), OTHERS: others},
                         on_event=both.on_event, tap=both.tap, drop_echo=False,
                         autosave_dir=tmp_path / "auto", **kw)  # fmt: skip
    lt.start()
    assert sd.devices[0].played.wait(30)
    wait_for(lambda: others.finished, 60)  # it gives a chunk a read: may lag on a busy machine
    lt.stop()
    assert lt.join(30)
    return lt, both


def test_each_source_gives_its_own_tokens_and_labels(folder, tmp_path):
    others = IteratorSource(chunks(OTHER), realtime=True, speed=4.0, name="system audio")
    lt, both = run_both(folder, tmp_path, others, save_audio=True)
    model = weights.load(folder)[0]
    transcript = lt.transcript
    tokens = transcript.metadata["source_tokens"]
    assert tokens[YOU] == offline_tokens(model, both.audio(YOU))
    assert tokens[OTHERS] == offline_tokens(model, both.audio(OTHERS))
    assert len(both.audio(OTHERS)) == len(OTHER)  # the whole of it, though it ended first
    assert transcript.metadata["sources"] == {YOU: "USB Mic", OTHERS: "system audio"}
    # Every final word came once, with its source's label, in that source's TextEvents.
    for label in (YOU, OTHERS):
        said = [w for e in both.of(TextEvent, label) for w in e.words]
        assert len(said) > 3 and all(w.source == label for w in said)
        assert [w for w in transcript.words if w.source == label] == said
        assert both.of(MeterEvent, label)
    assert not both.of(TextEvent, None) and not both.of(ErrorEvent)
    assert all(len({w.source for w in s.words}) == 1 for s in transcript.segments)
    assert [e.status for e in both.of(StatusEvent)] == [Status.LOADING, Status.LISTENING, Status.STOPPED]  # fmt: skip
    # The journal and the kept audio: labelled too.
    recovered = recover(lt.journal)
    assert [(w.text, w.source) for w in recovered.words] == [(w.text, w.source) for w in transcript.words]  # fmt: skip
    audio = transcript.metadata["audio"]
    assert set(audio) == {YOU, OTHERS} and audio[YOU].endswith("-you.wav")
    for label in (YOU, OTHERS):
        kept, rate = sf.read(audio[label], dtype="float32")
        assert rate == 16000 and np.array_equal(kept, both.audio(label))


class Failing(IteratorSource):
    """Gives some audio, then fails (once) as an unplugged device would."""

    failed = False

    def read(self, timeout=0.0):
        chunk = super().read(timeout)
        if chunk is None and self.finished and not self.failed:
            self.failed = True
            raise DeviceError("the computer's audio went away")
        return chunk


def test_a_failing_source_ends_alone(folder, tmp_path):
    others = Failing(chunks(OTHER[:32000]), realtime=True, speed=4.0, name="system audio")
    lt, both = run_both(folder, tmp_path, others)
    errors = both.of(ErrorEvent)
    assert [(e.source, e.fatal) for e in errors] == [(OTHERS, False)]
    model = weights.load(folder)[0]
    tokens = lt.transcript.metadata["source_tokens"]
    assert tokens[OTHERS] == offline_tokens(model, both.audio(OTHERS))
    assert tokens[YOU] == offline_tokens(model, both.audio(YOU))  # the mic went on to its end
    assert len(both.audio(YOU)) >= len(SPEECH) - 16000 * 0.05


@pytest.mark.parametrize("labels", [[YOU], [OTHERS, YOU]])
def test_a_mapping_of_one_or_in_another_order(folder, tmp_path, labels):
    """A mapping labels even one source; the order of a mapping is the order of the rows."""
    sources = {label: IteratorSource(chunks(SPEECH if label == YOU else OTHER), name=label)
               for label in labels}  # fmt: skip
    both = Both()
    lt = LiveTranscriber(Loader(folder), sources, on_event=both.on_event, tap=both.tap,
                         autosave=False)  # fmt: skip
    lt.start()
    assert lt.join(60)
    model = weights.load(folder)[0]
    for label in labels:
        assert lt.transcript.metadata["source_tokens"][label] == offline_tokens(model, both.audio(label))  # fmt: skip
        assert all(w.source in labels for w in lt.transcript.words)
    assert lt.transcript.tokens == []


def echo_of(audio, delay_s=0.12, gain=0.5, seed=0):
    """``audio`` as a microphone near loudspeakers hears it: later, quieter, a little noise."""
    noise = np.random.default_rng(seed).normal(0, 10 ** (-50 / 20), len(audio)).astype(np.float32)
    return mic_hears(audio, gain, delay_s) + noise


def run_echo(folder, mic, system, drop_echo=True):
    both = Both()
    sources = {YOU: IteratorSource(chunks(mic), name="mic"),
               OTHERS: IteratorSource(chunks(system), name="system audio")}  # fmt: skip
    lt = LiveTranscriber(Loader(folder), sources, on_event=both.on_event, tap=both.tap,
                         autosave=False, drop_echo=drop_echo)  # fmt: skip
    lt.start()
    assert lt.join(60)
    transcript = lt.transcript
    mine = [w for w in transcript.words if w.source == YOU]
    return transcript, mine, transcript.metadata["echo_words_dropped"]


def heard(audio, word, floor_db=-40.0) -> bool:
    """Whether the microphone had sound under ``word`` (a random model also writes words over
    silence: those are no one's echo and are not dropped)."""
    x = audio[int(word.start * 16000) : max(int(word.end * 16000), int(word.start * 16000) + 1600)]
    return x.size > 0 and 10 * np.log10(np.mean(np.square(x)) + 1e-20) > floor_db


def test_the_microphone_hearing_the_speakers_is_dropped(folder):
    """Loudspeakers: the mic hears only the computer's audio; its words over that sound go (the
    tokens stay); with dropping off they are kept."""
    speech = SPEECH[: 16000 * 6]
    mic = echo_of(speech)
    transcript, mine, dropped = run_echo(folder, mic, speech)
    kept_off, mine_off, dropped_off = run_echo(folder, mic, speech, drop_echo=False)
    over_sound = [w for w in mine_off if heard(mic, w)]
    assert dropped_off == 0 and len(over_sound) > 10
    assert not any(heard(mic, w) for w in mine)  # every word over the echo was dropped
    assert dropped == len(mine_off) - len(mine) >= len(over_sound)
    assert transcript.metadata["source_tokens"] == kept_off.metadata["source_tokens"]
    assert len([w for w in transcript.words if w.source == OTHERS]) > 10  # the speakers' words stay


def test_speech_into_the_microphone_is_kept_beside_the_computers(folder):
    """Headphones, or the user talking over what plays: the mic's own words are kept."""
    speech = SPEECH[: 16000 * 6]
    other = np.ascontiguousarray(SPEECH[::-1][: len(speech)])
    _, mine, dropped = run_echo(folder, other, speech)
    assert dropped == 0 and len(mine) > 10
    mic = other + echo_of(speech, gain=0.3)  # talking over the echo
    _, mine, _ = run_echo(folder, mic, speech)
    _, every, _ = run_echo(folder, mic, speech, drop_echo=False)  # the same words, none dropped
    spoken = [w for w in every if heard(other, w)]  # the user's voice is under these
    kept = [w for w in spoken if w in mine]
    assert len(spoken) >= 8 and len(kept) >= 0.95 * len(spoken)
