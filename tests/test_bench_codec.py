"""One small real codec run: the real transcode in a spawned pool over two small generated photos
(and one too small to transcode, which must be reported, not timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import native_bench
from native_bench.samples import list_images, write_samples

KEYS = {"backend", "workers", "images_per_s", "cpu_ms_per_image", "peak_rss_mb"}


@pytest.fixture
def small_images(tmp_path: Path) -> Path:
    specs = [("a.jpg", 1200, 900, 1, 1), ("b.jpg", 900, 700, 6, 2), ("tiny.jpg", 100, 60, 1, 3)]
    write_samples(tmp_path / "images", specs)
    return tmp_path / "images"


def test_codec_run_reports_positive_figures_and_skips_failures(small_images: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.json"
    code = native_bench.main(
        ["codec", "--images", str(small_images), "--workers", "1", "--repeat", "1", "--json", str(out)],
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert set(doc) >= {"codec", "pipeline", "recommendation"}
    [run] = doc["codec"]
    assert KEYS <= set(run)
    assert run["backend"] == "vips" and run["workers"] == 1
    assert run["images"] == 2
    assert run["images_per_s"] > 0 and run["cpu_ms_per_image"] > 0 and run["peak_rss_mb"] > 0
    assert [f["file"] for f in run["failures"]] == ["tiny.jpg"]
    assert run["failures"][0]["error"].startswith("image_too_small")
    assert doc["recommendation"]["workers"] == 1
    table = capsys.readouterr().out
    assert "images/s" in table and "tiny.jpg" in table


def test_bad_arguments_are_refused_before_any_work(small_images: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        native_bench.main(["codec", "--images", str(small_images), "--workers", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        native_bench.main(["codec", "--backend", "gimp"])


def test_builtin_samples_are_photo_sized_and_oriented(tmp_path: Path) -> None:
    import pyvips

    from native_bench.samples import BUILTIN, builtin_samples

    paths = builtin_samples(tmp_path / "cache")
    assert [p.name for p in paths] == [name for name, *_ in BUILTIN]
    assert list_images(tmp_path / "cache") == sorted(paths)
    for path, (_, width, height, orientation, _) in zip(paths, BUILTIN):
        image = pyvips.Image.new_from_file(str(path))
        assert (image.width, image.height) == (width, height)
        assert 7_900_000 <= width * height <= 12_000_000  # 8-12 MP, as phones shoot
        assert image.get("orientation") == orientation
    smallest = paths[1].read_bytes()
    paths[1].unlink()
    assert builtin_samples(tmp_path / "cache")[1].read_bytes() == smallest  # deterministic


def test_tune_prints_config_lines_ready_to_paste(small_images: Path, capsys) -> None:
    import tomllib

    from server.config import load_settings

    code = native_bench.main(["tune", "--images", str(small_images), "--max-workers", "1", "--repeat", "1",
                              "--no-pipeline", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    block = out[out.index("# Recommended settings"):]
    pasted = tomllib.loads(block)  # the whole block is valid TOML, comments included
    assert set(pasted) == {"workers", "mailbox_size", "vips_concurrency", "backlog_high_water"}
    assert pasted["workers"] == 1
    settings = load_settings(cli={k: str(v) for k, v in pasted.items()}, environ={})  # and valid settings
    assert settings.workers == 1
