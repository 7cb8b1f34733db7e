"""A real interleaved run: the production transcode beside its floor, on two small generated photos
and one too small to transcode, with outputs scored against their source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import native_bench
from actors.transcode import DEFAULT_VARIANTS
from actors.transcode.floor import plan, transcode_floor
from native_bench.samples import write_samples


@pytest.fixture
def small_images(tmp_path: Path) -> Path:
    specs = [("a.jpg", 1200, 900, 1, 1), ("b.jpg", 900, 700, 6, 2), ("tiny.jpg", 100, 60, 1, 3)]
    write_samples(tmp_path / "images", specs)
    return tmp_path / "images"


def test_floor_makes_the_same_files_as_the_production_transcode(small_images: Path) -> None:
    from actors.transcode import transcode

    source = (small_images / "b.jpg").read_bytes()  # EXIF orientation 6: the floor rotates too
    ours = {r.variant: r for r in transcode(source).renditions}
    floor = {r.variant: r for r in transcode_floor(source, qualities=plan(source))}
    assert set(floor) == {v.name for v in DEFAULT_VARIANTS}
    for name, r in floor.items():
        assert (r.width, r.height, r.quality) == (ours[name].width, ours[name].height, ours[name].quality)


def test_interleaved_run_reports_ratios_quality_and_failures(small_images: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.json"
    code = native_bench.main(["codec", "--interleave", "--backend", "vips,floor", "--rounds", "2", "--quiet",
                              "--images", str(small_images), "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())["interleaved"]
    assert doc["rounds"] == 2 and doc["backends"] == ["vips", "floor"]
    for backend in ("vips", "floor"):
        assert sorted(doc["cpu_ms"][backend]) == ["a.jpg", "b.jpg"]
        assert all(len(v) == 2 and min(v) > 0 for v in doc["cpu_ms"][backend].values())
        assert doc["failures"][backend]["tiny.jpg"].startswith("image_too_small")
        for outputs in doc["outputs"][backend].values():
            assert len(outputs) == len(DEFAULT_VARIANTS)
            assert all(0.8 < o["ssim"] <= 1.0 for o in outputs)
    assert {(r["image"], r["theirs"]) for r in doc["ratios"]} == {("a.jpg", "floor"), ("b.jpg", "floor")}
    table = capsys.readouterr().out
    assert "vips/floor" in table and "SSIM" in table and "vips_vs_floor" in table


def test_sharp_needs_the_interleaved_mode(small_images: Path, capsys) -> None:
    assert native_bench.main(["codec", "--backend", "vips,sharp", "--images", str(small_images), "--quiet"]) == 1
    assert "only with --interleave" in capsys.readouterr().err


def test_ssim_is_one_for_the_same_picture_and_falls_with_quality() -> None:
    import pyvips

    from native_bench.quality import ssim

    image = pyvips.Image.gaussnoise(200, 150, sigma=40, mean=128).cast("uchar")
    photo = image.bandjoin([image, image]).copy(interpretation="srgb").gaussblur(1.2).copy_memory()
    scores = [ssim(photo, pyvips.Image.new_from_buffer(photo.jpegsave_buffer(Q=q), "")) for q in (95, 60, 20)]
    assert ssim(photo, photo) == pytest.approx(1.0)
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0
