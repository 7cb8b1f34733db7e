"""Variants are configurable (DESIGN.md): the pure spec parser, its errors at start-up, and a
configured variant really changing what the transcode produces."""

from __future__ import annotations

import pytest

from actors.transcode import DEFAULT_VARIANTS, transcode
from conftest import corpus_file
from server.config import ConfigError, Settings, load_settings, parse_variants
from server.pipeline_ctx import transcode_options


def test_default_spec_is_the_design_defaults() -> None:
    parsed = parse_variants(Settings().variants)
    assert parsed == tuple((v.name, v.max_side, v.quality, v.max_bytes) for v in DEFAULT_VARIANTS)


def test_order_and_spacing_do_not_matter() -> None:
    parsed = parse_variants(" original:3000:88:1500000, thumbnail:200:75:40000 ,medium:800:80:120000")
    assert [p[0] for p in parsed] == ["thumbnail", "medium", "original"]
    assert parsed[0] == ("thumbnail", 200, 75, 40000)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("thumbnail:150:80:30000,medium:600:85:100000", "missing variant(s) original"),
        ("thumbnail:150:80:30000,medium:600:85:100000,original:4000:90", "is not name:max_side"),
        ("thumbnail:150:80:30000,medium:600:85:100000,original:4000:ninety:2000000", "whole numbers"),
        ("thumbnail:150:80:30000,medium:600:85:100000,original:4000:90:2000000,huge:9000:90:1", "not a variant"),
        ("thumbnail:150:80:30000,thumbnail:150:80:30000,medium:600:85:100000,original:4000:90:2000000", "twice"),
        ("thumbnail:150:0:30000,medium:600:85:100000,original:4000:90:2000000", "1 <= quality <= 100"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(spec: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_variants(spec)
    assert says in str(info.value)
    with pytest.raises(ConfigError) as config_info:
        load_settings(environ={"IMAGEPIPE_VARIANTS": spec})
    assert any(line.startswith("variants: ") and says in line for line in config_info.value.problems)


def test_quality_floor_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"IMAGEPIPE_QUALITY_FLOOR": "0"})
    assert any(line.startswith("quality_floor") for line in info.value.problems)


def test_configured_variants_change_the_output() -> None:
    settings = load_settings(
        environ={
            "IMAGEPIPE_VARIANTS": "thumbnail:96:70:20000,medium:320:80:60000,original:1200:85:400000",
            "IMAGEPIPE_QUALITY_FLOOR": "50",
        }
    )
    options = transcode_options(settings)
    assert options.quality_floor == 50
    result = transcode(corpus_file("phone-landscape-4608x1976.jpg").read_bytes(), options)
    sides = {r.variant: max(r.width, r.height) for r in result.renditions}
    assert sides == {"thumbnail": 96, "medium": 320, "original": 1200}
    original = next(r for r in result.renditions if r.variant == "original")
    assert len(original.data) <= 400_000
