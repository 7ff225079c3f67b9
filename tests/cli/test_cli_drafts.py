"""``--mic`` with drafts: the delays the live transcriber is given (defaults 2400 ms final,
240 ms draft; ``--draft-delay-ms 0``: no drafts and the model's own delay), and usage errors."""

from __future__ import annotations

import pytest

from tests.cli.test_cli_live import FakeLive, finished, mic_run


class Recorder(FakeLive):
    def __call__(self, *args, **kwargs):
        self.kwargs = kwargs
        return self


@pytest.mark.parametrize(
    "argv, delay, draft",
    [
        ((), 2400, 240),
        (("--draft-delay-ms", "0"), None, 0),
        (("--delay-ms", "960", "--draft-delay-ms", "160"), 960, 160),
        (("--delay-ms", "480"), 480, 240),
    ],
)
def test_mic_delays(tmp_path, monkeypatch, argv, delay, draft):
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    fake = Recorder(finished(tmp_path), tmp_path / "live-1.jsonl")
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)
    assert cli.main(["--mic", *argv]) == 0
    assert fake.kwargs["delay_ms"] == delay and fake.kwargs["draft_delay_ms"] == draft


@pytest.mark.parametrize("bad", ["100", "-80", "2480", "soon"])
def test_a_bad_draft_delay_is_a_usage_error(tmp_path, monkeypatch, capsys, bad):
    with pytest.raises(SystemExit) as exit_:
        mic_run(monkeypatch, tmp_path, [], "--draft-delay-ms", bad)
    assert exit_.value.code == 2 and "--draft-delay-ms" in capsys.readouterr().err
