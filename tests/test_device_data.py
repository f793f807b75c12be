"""scripts/device_data.py: the training data split into parts that fit a GPU machine's calls,
joined there into byte-identical arrays and dataset files (or a clear refusal)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_data.py"


@pytest.fixture(scope="module")
def device_data():
    spec = importlib.util.spec_from_file_location("device_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def arrays_and_root(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 300), ("val", 40), ("test", 50)):
        arrays[f"x_{split}"] = rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
        arrays[f"y_{split}"] = rng.integers(0, 7, n).astype(np.int32)
        arrays[f"rel_{split}"] = np.array([f"{split}/happy/{i}.jpg" for i in range(n)])
    cache = tmp_path / "cache.npz"
    np.savez(cache, **arrays, info=json.dumps({"n_train": 300, "n_val": 40, "n_test": 50}))
    root = tmp_path / "data"
    (root / "fer2013_ferplus_labels").mkdir(parents=True)
    (root / "fer2013_ferplus_labels" / "msambare_to_ferplus.csv").write_text("path,x\na,1\n")
    (root / "ckplus48" / "anger").mkdir(parents=True)
    (root / "ckplus48" / "labels.csv").write_text("path,emotion\nanger/a.png,anger\n")
    (root / "ckplus48" / "anger" / "a.png").write_bytes(bytes(range(256)))
    return cache, root, arrays


def test_pack_then_unpack_gives_the_same_bytes(device_data, arrays_and_root, tmp_path):
    cache, root, arrays = arrays_and_root
    parts = tmp_path / "parts"
    manifest = device_data.pack(cache, parts, part_mb=0.3, data_root=root)
    assert manifest["parts"] >= 2 and manifest["n_train"] == 300
    assert all((parts / str(i) / "part.xz").stat().st_size <= 300_000
               for i in range(1, manifest["parts"] + 1))
    out_cache, data_dir = tmp_path / "there" / "fer.npz", tmp_path / "there" / "data"
    device_data.unpack(parts, out_cache, data_dir)
    got = np.load(out_cache)
    for key in ("x_train", "y_train", "rel_train", "x_val", "y_val", "rel_val"):
        np.testing.assert_array_equal(got[key], arrays[key])
    assert got["x_test"].shape == (0, 48, 48, 1) and json.loads(str(got["info"]))["n_test"] == 0
    for rel in ("fer2013_ferplus_labels/msambare_to_ferplus.csv", "ckplus48/labels.csv",
                "ckplus48/anger/a.png"):
        assert (data_dir / rel).read_bytes() == (root / rel).read_bytes()
    # the loader the training script uses reads the unpacked cache as it is
    from xfer_keras.training.fer2013_arrays import load_fer2013_arrays

    loaded = load_fer2013_arrays(48, 1, out_cache)
    np.testing.assert_array_equal(loaded.x_train, arrays["x_train"])


def test_unpack_refuses_missing_or_damaged_parts(device_data, arrays_and_root, tmp_path):
    cache, root, _ = arrays_and_root
    parts = tmp_path / "parts"
    device_data.pack(cache, parts, part_mb=0.3, data_root=root)
    last = sorted(parts.iterdir())[-1] / "part.xz"
    blob = last.read_bytes()
    last.unlink()
    with pytest.raises(SystemExit, match="are not under"):
        device_data.unpack(parts, tmp_path / "a.npz", tmp_path / "d")
    last.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(SystemExit, match="sha256"):
        device_data.unpack(parts, tmp_path / "a.npz", tmp_path / "d")
