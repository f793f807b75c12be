"""CK+ frames and subjects as tables, for dev sets and for posed training faces.

* :func:`ckplus_peak_frames` - the last ``n_last`` frames of the 40 full-resolution CK+
  sequences (640x490 lab photos);
* :func:`ckplus_onset_frames` - the first (neutral) frame of each of those sequences;
* :func:`ckplus_fullres_dev_frames` - both together (peaks, then onsets);
* :func:`ckplus48_frame` - CK+48 (48x48 crops of the last 3 frames of 327 sequences), no contempt,
  without the subjects a model trained on (:func:`ckplus48_training_subjects` picks a seeded
  share of CK+48's subjects, never those of the full-resolution sequences, as posed training
  faces; :func:`trained_subjects` reads them back from a model's config).

The split is by person: no face a model trained on is ever scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ckplus_peak_frames(n_last: int = 3, root=None) -> pd.DataFrame:
    """``[path, emotion, subject, sequence]`` of the last ``n_last`` frames of every CK+
    sequence (six emotions; contempt is not among our classes)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    rows = [(str(path), record.emotion, record.subject, record.sequence)
            for record in load_ckplus_sequences(root)
            for path in record.frame_paths[-n_last:]]
    return pd.DataFrame(rows, columns=["path", "emotion", "subject", "sequence"])


def ckplus_onset_frames(root=None) -> pd.DataFrame:
    """``[path, emotion, subject, sequence]`` of the first frame of every CK+ sequence, labelled
    ``neutral``: CK+ sequences start at a neutral face, so these give the dev sets the neutral
    class the peak frames and CK+48 lack (a choice scored without them would reward never
    answering neutral)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    rows = [(str(record.frame_paths[0]), "neutral", record.subject, record.sequence)
            for record in load_ckplus_sequences(root) if len(record.frame_paths) > 1]
    return pd.DataFrame(rows, columns=["path", "emotion", "subject", "sequence"])


def ckplus_fullres_dev_frames(n_sequences: int | None = None, root=None) -> pd.DataFrame:
    """:func:`ckplus_peak_frames` (last 3) then :func:`ckplus_onset_frames`: the CK+
    full-resolution dev photos (160). ``n_sequences``: only the first N sequences (by subject and
    sequence), peaks and onsets alike (quick runs)."""
    peaks, onsets = ckplus_peak_frames(3, root), ckplus_onset_frames(root)
    if n_sequences is not None:
        keys = set(sorted(set(zip(onsets["subject"], onsets["sequence"])))[:n_sequences])
        peaks, onsets = (f[[k in keys for k in zip(f["subject"], f["sequence"])]]
                         for f in (peaks, onsets))
    return pd.concat([peaks, onsets], ignore_index=True)


def ckplus48_frame(root=None, exclude_subjects=()) -> pd.DataFrame:
    """CK+48 as ``[path, emotion, subject]`` without contempt, without the subjects in
    ``exclude_subjects`` (those a model trained on: :func:`trained_subjects`)."""
    from pathlib import Path

    from xfer_keras.config import dataset_dir
    from xfer_keras.data.image_folders import list_image_folder

    frame = list_image_folder(dataset_dir("ckplus48", root))
    frame["subject"] = [Path(path).name.split("_")[0] for path in frame["path"]]
    excluded = frame["subject"].isin(set(exclude_subjects))
    return frame[~excluded].reset_index(drop=True)


def ckplus48_training_subjects(share: float = 0.6, seed: int = 0, root=None) -> list[str]:
    """A seeded ``share`` of CK+48's subjects to train on posed faces (sorted IDs).

    The subjects of the full-resolution sequences (the whole-pipeline dev set) are never among
    them, and every subject left out stays a CK+48 dev subject: the split is by person, so no
    face a model trained on is scored."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"share must be in [0, 1), got {share}")
    frame = ckplus48_frame(root)
    pool = sorted(set(frame["subject"]) - set(ckplus_fullres_subjects(root)))
    order = np.random.default_rng(seed).permutation(len(pool))
    return sorted(pool[i] for i in order[:round(share * len(pool))])


def ckplus_fullres_subjects(root=None) -> list[str]:
    """The subjects of the 40 full-resolution CK+ sequences (from CK+48's ``labels.csv`` flag
    when present, else from the sequences themselves)."""
    from xfer_keras.config import dataset_dir

    labels = dataset_dir("ckplus48", root) / "labels.csv"
    if labels.is_file():
        table = pd.read_csv(labels, dtype=str)
        if "in_ckplus_sequences_subset" in table:
            return sorted(set(table.loc[table["in_ckplus_sequences_subset"] == "1", "subject"]))
    from xfer_keras.data.ckplus import load_ckplus_sequences

    return sorted({record.subject for record in load_ckplus_sequences(root)})


def trained_subjects(classifier) -> list[str]:
    """The CK+ subjects a classifier saw in training (``config.extra["posed_training"]``):
    they are left out wherever it is scored."""
    record = classifier.config.extra.get("posed_training") or {}
    return sorted(record.get("subjects", ()))
