"""Datasets: CK+ sequences, image folders, landmark-sequence tensors, splits, caches."""

from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.data.synthetic import planted_sequences
from xfer_keras.data.ckplus import (
    SequenceRecord,
    aam_landmark_files,
    find_ckplus_root,
    load_ckplus_sequences,
    read_aam_landmarks,
    read_dlib68_csv,
)
from xfer_keras.data.image_folders import list_image_folder
from xfer_keras.data.landmark_cache import FrameLandmarks, LandmarkCache, extract_landmarks
from xfer_keras.data.sequences import (
    build_sequence_dataset,
    frame_indices,
    load_ckplus_dataset,
    mean_face,
    normalize_points,
    sequence_landmarks,
)
from xfer_keras.data.splits import (
    grouped_kfold,
    grouped_train_test_split,
    leave_one_subject_out,
)

__all__ = [
    "SequenceDataset", "planted_sequences",
    "SequenceRecord", "load_ckplus_sequences", "find_ckplus_root", "aam_landmark_files",
    "read_aam_landmarks", "read_dlib68_csv",
    "FrameLandmarks", "LandmarkCache", "extract_landmarks",
    "load_ckplus_dataset", "build_sequence_dataset", "sequence_landmarks", "frame_indices",
    "normalize_points", "mean_face",
    "leave_one_subject_out", "grouped_kfold", "grouped_train_test_split",
    "list_image_folder",
]
