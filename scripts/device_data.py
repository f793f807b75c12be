"""Carry the image model's training data to a borrowed GPU machine, and unpack it there.

    python scripts/device_data.py pack --cache /tmp/xfer_fer2013sharp_48_gray.npz   # here
    python scripts/device_data.py unpack --cache /tmp/fer.npz --data-dir /tmp/data  # there

A GPU machine gets a copy of the working tree and at most 64 MiB per call, the tracked files
(~28 MB, the shipped model among them) included, and it cannot reach ``XFER_DATA_DIR``. What
``scripts/train_default_model.py --train-only --labels ferplus --posed ckplus48`` reads there is
the FER2013 train and validation arrays of the cache (not the test set: the returned model is
evaluated here with ``--evaluate-only``), the FER+ vote table and CK+48: ``pack`` puts them in one
xz-compressed tar (noisy 48 px faces compress poorly: ~50 MB), split into parts of at most
``--part-mb`` under ``.device_data/1``, ``.device_data/2``, ... (git-ignored; never committed:
research licences). Each part travels in its own call (``carry: [".device_data/1"]``, then
``[".device_data/2"]``): ignored paths already on a warm machine stay between calls. ``unpack``
joins the parts, checks the manifest's sha256, writes the cache ``.npz`` (an empty test set) and
the two dataset folders under ``--data-dir`` (point ``XFER_DATA_DIR`` at it). The arrays are
byte-identical, so the teachers' stored answers (``saved_models/teachers``) still apply.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATASETS = ("fer2013_ferplus_labels", "ckplus48")  # what training reads besides the arrays
ARRAYS = "fer2013_train_val.npz"


def pack(cache: Path, out: Path, part_mb: float = 30.0, data_root=None) -> dict:
    """Write the parts and ``manifest.json`` (in part 1) under ``out``; returns the manifest.
    ``data_root``: where the dataset folders are (default ``XFER_DATA_DIR``)."""
    import numpy as np

    import xfer_keras  # noqa: F401
    from xfer_keras.atomic import atomic_write_bytes, atomic_write_text
    from xfer_keras.config import dataset_dir
    from xfer_keras.training.fer2013_arrays import load_fer2013_arrays

    data = load_fer2013_arrays(48, 1, cache)  # the cache's own arrays (built if missing)
    arrays = {k: getattr(data, k) for k in ("x_train", "y_train", "rel_train",
                                            "x_val", "y_val", "rel_val")}
    for split in ("x", "y", "rel"):  # an empty test set of the same dtypes
        arrays[f"{split}_test"] = getattr(data, f"{split}_test")[:0]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, info=json.dumps(dict(data.info, n_test=0,
                                                    test="left out (device training)")))
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo(ARRAYS)
        info.size = buffer.getbuffer().nbytes
        buffer.seek(0)
        tar.addfile(info, buffer)
        for name in DATASETS:
            tar.add(dataset_dir(name, data_root), arcname=name)
    blob = lzma.compress(tar_bytes.getvalue(), preset=6)
    size = int(part_mb * 1e6)
    pieces = [blob[i:i + size] for i in range(0, len(blob), size)]
    manifest = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob),
                "parts": len(pieces), "arrays": ARRAYS, "datasets": list(DATASETS),
                "n_train": int(len(data.x_train)), "n_val": int(len(data.x_val))}
    for i, piece in enumerate(pieces, 1):
        atomic_write_bytes(out / str(i) / "part.xz", piece)
    atomic_write_text(out / "1" / "manifest.json", json.dumps(manifest, indent=2))
    return manifest


def unpack(parts: Path, cache: Path, data_dir: Path) -> dict:
    """Join ``parts/N/part.xz``, check the sha256, write the cache and the dataset folders."""
    manifest = json.loads((parts / "1" / "manifest.json").read_text())
    missing = [i for i in range(1, manifest["parts"] + 1)
               if not (parts / str(i) / "part.xz").is_file()]
    if missing:
        raise SystemExit(f"parts {missing} of {manifest['parts']} are not under {parts}: carry "
                         "each .device_data/N in a call while the machine stays warm")
    blob = b"".join((parts / str(i) / "part.xz").read_bytes()
                    for i in range(1, manifest["parts"] + 1))
    if hashlib.sha256(blob).hexdigest() != manifest["sha256"]:
        raise SystemExit("the joined parts do not match the manifest's sha256: pack again")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(blob)), mode="r") as tar:
        tar.extractall(data_dir, filter="data")
    cache.parent.mkdir(parents=True, exist_ok=True)
    os.replace(data_dir / manifest["arrays"], cache)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="here: the parts under --out")
    p.add_argument("--cache", required=True, help="the FER2013 arrays cache (.npz)")
    p.add_argument("--out", default=str(REPO / ".device_data"))
    p.add_argument("--part-mb", type=float, default=30.0,
                   help="largest part (MB); a part and the tracked files travel in one call")
    u = sub.add_parser("unpack", help="on the GPU machine")
    u.add_argument("--parts", default=str(REPO / ".device_data"))
    u.add_argument("--cache", required=True, help="where to write the arrays cache (.npz)")
    u.add_argument("--data-dir", required=True, help="the XFER_DATA_DIR to write")
    args = parser.parse_args(argv)
    if args.command == "pack":
        manifest = pack(Path(args.cache), Path(args.out), args.part_mb)
        print(f"{manifest['parts']} part(s), {manifest['bytes'] / 1e6:.1f} MB in {args.out}: "
              f"{manifest['n_train']} train and {manifest['n_val']} validation images, "
              f"{', '.join(manifest['datasets'])}", flush=True)
    else:
        manifest = unpack(Path(args.parts), Path(args.cache), Path(args.data_dir))
        print(f"unpacked {manifest['n_train']} train and {manifest['n_val']} validation images "
              f"to {args.cache}, {', '.join(manifest['datasets'])} to {args.data_dir}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
