"""Model files resolve offline-first and fail with an actionable message."""

import pytest

from xfer_keras import assets
from xfer_keras.errors import ModelFileError


def test_explicit_path_and_env_var_win_over_the_cache(tmp_path, monkeypatch):
    own = tmp_path / "mine.task"
    own.write_bytes(b"user's file")
    monkeypatch.setenv("XFER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XFER_FACE_LANDMARKER", raising=False)
    assert assets.resolve("face_landmarker", path=own) == own
    monkeypatch.setenv("XFER_FACE_LANDMARKER", str(own))
    assert assets.resolve("face_landmarker") == own


def test_corrupt_cached_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("XFER_FACE_LANDMARKER", raising=False)
    (tmp_path / "face_landmarker.task").write_bytes(b"truncated download")
    with pytest.raises(ModelFileError, match="sha256"):
        assets.resolve("face_landmarker")


def test_offline_failure_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("XFER_FACE_LANDMARKER", raising=False)
    with pytest.raises(ModelFileError, match="XFER_FACE_LANDMARKER"):
        assets.resolve("face_landmarker", allow_download=False)

    def no_network(url, dest, sha256=None, timeout=60.0):
        raise ModelFileError(f"could not download {url}: Name or service not known")

    monkeypatch.setattr(assets, "download", no_network)
    with pytest.raises(ModelFileError, match="Offline.*XFER_FACE_LANDMARKER"):
        assets.resolve("face_landmarker")
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_download_verifies_checksum_before_the_file_appears(tmp_path, monkeypatch):
    source = tmp_path / "served.bin"
    source.write_bytes(b"not the official model")
    dest = tmp_path / "out" / "model.task"
    with pytest.raises(ModelFileError, match="sha256"):
        assets.download(source.as_uri(), dest, sha256="0" * 64)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    assets.download(source.as_uri(), dest, sha256=assets.sha256_of(source))
    assert dest.read_bytes() == source.read_bytes()
