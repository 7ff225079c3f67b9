"""Converting never destroys, follows or half-writes: refused destinations, planted links,
interrupted and killed conversions (tiny MLX-layout checkpoints, no torch)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from voxtral_mlx.checkpoint import cache as model_cache
from voxtral_mlx.checkpoint import convert, weights
from voxtral_mlx.cli import convert as convert_cli
from voxtral_mlx.errors import WeightsError
from voxtral_mlx.fs import staged_folder

REPO = "mistralai/Voxtral-Mini-4B-Realtime-2602"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def src(tmp_path, tiny_model) -> Path:
    folder = weights.save(tiny_model, tmp_path / "src")
    (folder / "tekken.json").write_text("{}")  # copied verbatim by convert
    return folder


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by content, to show nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refuse(capsys, src: Path, dst: str | Path) -> str:
    """Run the CLI in-process: it must exit 2 with one line and no traceback."""
    assert convert_cli.main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("spelling", ["same", "slash", "dotdot", "link", "relative"])
def test_destination_that_is_the_source_is_refused(src, capsys, monkeypatch, spelling):
    before = digest(src)
    (src.parent / "link").symlink_to(src)
    monkeypatch.chdir(src.parent)
    dst = {"same": str(src), "slash": f"{src}/", "dotdot": f"{src}/../src",
           "link": str(src.parent / "link"), "relative": "src"}[spelling]  # fmt: skip
    assert "source" in refuse(capsys, src, dst)
    assert digest(src) == before


@pytest.mark.parametrize("via_link", [False, True])
def test_destination_inside_the_source_is_refused(src, capsys, via_link):
    before = digest(src)
    base = src
    if via_link:
        base = src.parent / "link"
        base.symlink_to(src)
    assert "source" in refuse(capsys, src, base / "q4")
    assert digest(src) == before and not (src / "q4").exists()


@pytest.mark.parametrize("kind", ["file", "link to a file", "broken link"])
def test_destination_that_is_a_file_is_refused(src, capsys, tmp_path, kind):
    victim = tmp_path / "notes.txt"
    victim.write_text("precious")
    dst = tmp_path / "dst"
    if kind == "file":
        dst = victim
    else:
        dst.symlink_to(victim if kind == "link to a file" else tmp_path / "nowhere")
    assert "not a folder" in refuse(capsys, src, dst)
    assert victim.read_text() == "precious" and not (tmp_path / "nowhere").exists()


def test_folder_that_is_not_empty_is_refused(src, capsys, tmp_path):
    """Another model in DST would be overwritten file by file."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"another model")
    assert "not empty" in refuse(capsys, src, other)
    assert (other / "model.safetensors").read_bytes() == b"another model"


def test_the_api_refuses_too(src):
    before = digest(src)
    with pytest.raises(WeightsError, match="source"):
        convert.convert(src, src, bits=4)
    assert digest(src) == before


def test_cli_refusal_is_one_line_in_a_real_process(src):
    before = digest(src)
    r = subprocess.run([sys.executable, "-m", "voxtral_mlx.convert", str(src), str(src)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith(("error", "Traceback"))]
    assert r.returncode == 2 and len(lines) == 1 and "source" in lines[0], r.stderr
    assert digest(src) == before


def test_empty_folder_and_new_folder_are_written(src, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for dst in (empty, tmp_path / "new" / "deeper"):
        assert convert.convert(src, dst, bits=4) == dst
        _, cfg = weights.load(dst)
        assert cfg.quantization.bits == 4 and (dst / "tekken.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "new", "src"]


def test_interrupted_conversion_leaves_nothing(src, tmp_path):
    dst = tmp_path / "q4"

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert.convert(src, dst, bits=4, on_progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no DST, no temp folder


def test_save_never_writes_through_links_planted_at_temp_names(tmp_path, tiny_model):
    """The old fixed temp names (``<name>.partial``) and any name the writer picks."""
    folder = tmp_path / "m"
    folder.mkdir()
    victims = []
    for name in ("model.safetensors.partial", "params.json.partial"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (folder / name).symlink_to(victim)
        victims.append(victim)
    weights.save(tiny_model, folder)
    weights.load(folder)
    assert [v.read_text() for v in victims] == ["precious", "precious"]


def test_a_link_planted_at_the_staging_name_is_not_followed(src, tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    planted = staged_folder._prefix(tmp_path / "q4") + "00000000"
    (tmp_path / planted).symlink_to(victim)
    real = staged_folder.secrets.token_hex
    calls = iter(range(10**6))
    monkeypatch.setattr(staged_folder.secrets, "token_hex",
                        lambda n: "00000000" if next(calls) == 0 else real(n))  # fmt: skip
    convert.convert(src, tmp_path / "q4", bits=4)
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]
    assert (victim / "keep.txt").read_text() == "precious"
    weights.load(tmp_path / "q4")


def test_sigterm_stops_the_cli_and_leaves_nothing(src, tmp_path):
    dst = tmp_path / "q4"
    script = textwrap.dedent(f"""
        import os, signal, sys
        import voxtral_mlx.checkpoint.convert as c
        import voxtral_mlx.cli.convert as cli
        real = c.save_tensors
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGTERM)
            return real(*a, **k)
        c.save_tensors = killed
        sys.exit(cli.main([{str(src)!r}, {str(dst)!r}]))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)  # fmt: skip
    assert r.returncode == 143, r.stderr
    assert "interrupted" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("when", ["mid-tensors", "copying tekken.json"])
def test_killed_cache_conversion_never_looks_complete(src, tmp_path, when):
    """kill -9 during the first auto-conversion: the next start converts again, and the
    folder it returns is whole (before: killed after params.json, the folder without
    tekken.json was taken as finished forever)."""
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import voxtral_mlx.checkpoint.convert as c
        from voxtral_mlx.checkpoint import cache as model_cache
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        def progress(stage, done, total):
            if {when == "mid-tensors"} and done == 3:
                die()
        c.shutil.copyfile = die
        model_cache.model_folder({REPO!r}, 4, root=Path({str(cache)!r}),
                                 download=lambda **k: {str(src)!r}, on_progress=progress)
    """)
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert r.returncode == -9
    target = model_cache.converted_path(REPO, 4, cache)
    assert not target.exists()
    out = model_cache.model_folder(REPO, 4, root=cache, download=lambda **k: str(src))
    assert out == target and (out / "tekken.json").read_text() == "{}"
    weights.load(out)
    assert sorted(p.name for p in cache.iterdir()) == [target.name]  # the dead build removed


def test_cache_keeps_a_conversion_another_process_finished(src, tmp_path, monkeypatch):
    """Two starts converting at once: the second to finish uses the first one's folder."""
    cache = tmp_path / "cache"
    target = model_cache.converted_path(REPO, 4, cache)
    real = convert.save_tensors

    def other_process_first(folder, *a, **k):
        if not done:
            done.append(folder)
            convert.convert(src, target, bits=4)  # finishes while the first is writing
        return real(folder, *a, **k)

    done = []

    monkeypatch.setattr(convert, "save_tensors", other_process_first)
    assert model_cache.model_folder(REPO, 4, root=cache, download=lambda **k: str(src)) == target
    weights.load(target)
    assert sorted(p.name for p in cache.iterdir()) == [target.name]
